"""ScratchToProd: every deliverable of the syllabus from raw data to a served, monitored model."""

__version__ = "0.1.0"

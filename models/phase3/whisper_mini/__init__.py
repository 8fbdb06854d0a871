"""Whisper-mini: speech recognition of spoken commands synthesized offline by espeak-ng in several voices,
an encoder-decoder transformer over log-mel frames (with a CTC head as the ablation) in torch ops, against
pocketsphinx's pretrained English model, scored by word and character error rates on held-out voices."""

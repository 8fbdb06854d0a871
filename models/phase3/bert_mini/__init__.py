"""BERT-mini: a small BERT in torch ops (token, position and segment embeddings, post-norm encoder blocks on
gpt_mini's attention, a masked-LM head tied to the embeddings, a [CLS] classifier), pretrained by masked
language modelling on byte-level BPE tokens and fine-tuned for movie-review sentiment, against Hugging Face's
BertForMaskedLM / BertForSequenceClassification built from the same configuration."""

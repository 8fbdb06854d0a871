"""CLIP: an image encoder (a small ViT) and a text encoder (a character transformer) written out in torch ops
and trained with the symmetric InfoNCE loss and a learned temperature on generated images of coloured shapes
and their compositional captions, against the same encoders built from torch.nn.TransformerEncoder and trained
with open_clip's ClipLoss formula; served as an image -> captions and text -> images search."""

"""ViT: a Vision Transformer in torch ops (patch embedding, class token, learned positions, GPT-mini's
pre-norm blocks without the causal mask, attention rollout) on Fashion-MNIST, against the same network
built from torch.nn.TransformerEncoder and beside the Phase 2 `cnn` on the same split."""

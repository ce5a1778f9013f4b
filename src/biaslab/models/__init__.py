"""Backbones (cnn, vit, seq_attn, fc, rnn) and the parts they share (attention, pe, pooling, heads)."""

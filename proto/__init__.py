"""The descent protocol: descent.proto, its generated modules, and the Tensor codec."""

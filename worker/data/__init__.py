"""Data for training and analyses: train/val/test splits, preprocessing, batch sampling, and a
training split held as blocks of rows. Pure numpy over formats/; no grpc, no ray.
"""

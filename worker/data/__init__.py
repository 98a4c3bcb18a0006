"""Data for training and analyses: train/val/test splits, preprocessing, batch sampling, and a
training split held as blocks of rows. Pure numpy over formats/.

May import formats only: never grpc, ray, proto, or the rest of worker/.
"""

"""The pictures the commands draw as PNGs (matplotlib, imported lazily): the notes' plots,
the sweep, the confusion matrix, the learned templates.

May import output and client.errors.
"""

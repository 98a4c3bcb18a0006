"""TensorBoard's summary messages built from numpy values: scalars, a histogram, an image (PNG
encoded here with zlib, so the server needs no imaging library), and the HParams plugin's
session start and end. Pure: messages in, messages out; server.observe.tensorboard writes them.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Mapping

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

#: Buckets of a W histogram.
HISTOGRAM_BINS = 30


def event(step: int, *values: summary_pb2.Summary.Value, wall_time: float | None = None) -> event_pb2.Event:
    """One event at ``step`` holding ``values``."""
    return event_pb2.Event(wall_time=time.time() if wall_time is None else wall_time, step=int(step),
                           summary=summary_pb2.Summary(value=list(values)))


def scalar(tag: str, value: float) -> summary_pb2.Summary.Value:
    return summary_pb2.Summary.Value(tag=tag, simple_value=float(value))


def histogram(tag: str, values: np.ndarray) -> summary_pb2.Summary.Value:
    """The distribution of ``values`` in HISTOGRAM_BINS equal buckets (TensorBoard's histogram and distribution views)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    proto = summary_pb2.HistogramProto(
        min=float(values.min()), max=float(values.max()), num=float(values.size), sum=float(values.sum()),
        sum_squares=float(np.dot(values, values)), bucket_limit=edges[1:].tolist(), bucket=counts.astype(float).tolist(),
    )
    return summary_pb2.Summary.Value(tag=tag, histo=proto)


def png(pixels: np.ndarray) -> bytes:
    """An 8-bit grayscale (H, W) or RGB (H, W, 3) array as PNG bytes."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    rows = b"".join(b"\0" + pixels[y].tobytes() for y in range(height))  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def image(tag: str, tile: np.ndarray, scale: int = 1) -> summary_pb2.Summary.Value:
    """A template tile scaled from its own min (black) to max (white), each pixel repeated ``scale`` times."""
    tile = np.asarray(tile, dtype=np.float64)
    low, high = float(tile.min()), float(tile.max())
    pixels = np.zeros_like(tile) if high <= low else (tile - low) / (high - low) * 255.0
    pixels = np.repeat(np.repeat(np.rint(pixels), scale, axis=0), scale, axis=1)
    encoded = summary_pb2.Summary.Image(height=pixels.shape[0], width=pixels.shape[1],
                                        colorspace=3 if pixels.ndim == 3 else 1, encoded_image_string=png(pixels))
    return summary_pb2.Summary.Value(tag=tag, image=encoded)


def _plugin_value(tag: str, data: plugin_data_pb2.HParamsPluginData) -> summary_pb2.Summary.Value:
    return summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR)


def hparams_start(hparams: Mapping[str, bool | int | float | str], metrics: list[str], started: float) -> list[summary_pb2.Summary.Value]:
    """The HParams plugin's experiment (these hparams and metrics) and this run's session start."""
    infos = []
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=started)
    for name, value in hparams.items():
        if isinstance(value, bool):
            start.hparams[name].bool_value = value
            kind = api_pb2.DATA_TYPE_BOOL
        elif isinstance(value, (int, float)):
            start.hparams[name].number_value = float(value)
            kind = api_pb2.DATA_TYPE_FLOAT64
        else:
            start.hparams[name].string_value = str(value)
            kind = api_pb2.DATA_TYPE_STRING
        infos.append(api_pb2.HParamInfo(name=name, type=kind))
    experiment = api_pb2.Experiment(hparam_infos=infos,
                                    metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in metrics])
    return [_plugin_value(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
            _plugin_value(metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start))]


def hparams_end(succeeded: bool, ended: float) -> summary_pb2.Summary.Value:
    """The HParams plugin's session end: success or failure."""
    status = api_pb2.STATUS_SUCCESS if succeeded else api_pb2.STATUS_FAILURE
    end = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=ended)
    return _plugin_value(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end))

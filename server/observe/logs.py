"""The server's log lines: logfmt (``--log-format text``, the default) or JSON lines (``--log-format json``).

Every line carries ``time``, ``level``, ``logger`` and ``msg``; a job event
(server.observe.events) adds its own fields (``event``, ``job``, ...) to the same line,
so ``docker compose logs server`` reads as a story and parses as data:

    time=2026-11-26T15:40:01.123Z level=info logger=descent.events msg="job placed" event=placed job=job-1a2b nodes=3f2a,9c1d
    {"time": "2026-11-26T15:40:01.123Z", "level": "info", "logger": "descent.events", "msg": "job placed", "event": "placed", ...}
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time

FORMATS = ("text", "json")
#: The attribute of a LogRecord that holds an event's fields (``log.info(msg, extra={FIELDS: {...}})``).
FIELDS = "descent_fields"


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def record_fields(record: logging.LogRecord) -> dict:
    """The line's fields in order: time, level, logger, msg, then the event's own (and an exception, if any)."""
    fields = {"time": _timestamp(record), "level": record.levelname.lower(), "logger": record.name,
              "msg": record.getMessage()}
    fields.update(getattr(record, FIELDS, None) or {})
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


def _logfmt_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value).lower()
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    text = str(value)
    if text and not any(c in text for c in ' "=\\\n\t') :
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


class LogfmtFormatter(logging.Formatter):
    """``key=value`` pairs on one line; values with spaces, quotes or ``=`` are quoted with escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in record_fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line (non-finite floats as null)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                  for k, v in record_fields(record).items()}
        return json.dumps(fields, default=str, allow_nan=False)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send the server's log lines to stderr in ``log_format`` (one of FORMATS)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else LogfmtFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)


def parse_logfmt(line: str) -> dict:
    """The fields of one logfmt line (the inverse of LogfmtFormatter, for tests and log readers); ValueError if malformed."""
    fields, i, n = {}, 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        if i >= n:
            break
        eq = line.find("=", i)
        if eq < 0 or " " in line[i:eq]:
            raise ValueError(f"not logfmt at column {i}: {line[i:i + 40]!r}")
        key, i = line[i:eq], eq + 1
        if i < n and line[i] == '"':
            out, i = [], i + 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    out.append({"n": "\n", "t": "\t"}.get(line[i + 1], line[i + 1]))
                    i += 2
                else:
                    out.append(line[i])
                    i += 1
            if i >= n:
                raise ValueError(f"unterminated quote in value of {key!r}")
            value, i = "".join(out), i + 1
        else:
            end = line.find(" ", i)
            end = n if end < 0 else end
            value, i = line[i:end], end
        fields[key] = value
    return fields

"""Request messages built from CLI options: only the fields a user gave are set (the server defaults the rest)."""

from __future__ import annotations

from proto import descent_pb2
from proto.job_fields import BY_NAME
from proto.names import FORMULA_VALUES, METHOD_VALUES


def with_optional(message, **fields):
    """Set the fields of ``message`` whose value is not None; leave the rest unset."""
    for name, value in fields.items():
        if value is not None:
            setattr(message, name, value)
    return message


def job_spec(dataset: str | None = None, **fields) -> descent_pb2.JobSpec:
    """A JobSpec carrying only the fields given and not None (the server defaults the rest).

    The names are those of proto.job_fields (the JobSpec's own); an unknown one is a ValueError.
    ``workers`` may be a (MIN, MAX) pair: an elastic job's min_workers and max_workers.
    """
    unknown = sorted(set(fields) - set(BY_NAME))
    if unknown:
        raise ValueError(f"not JobSpec fields: {', '.join(unknown)}")
    if isinstance(fields.get("workers"), tuple):
        fields["min_workers"], fields["max_workers"] = fields.pop("workers")
    return with_optional(descent_pb2.JobSpec(), dataset=dataset, **fields)


def gradcheck_request(
    dataset: str | None = None,
    *,
    checks: int | None = None,
    h: float | list[float] | None = None,
    formula: str | None = None,
    seed: int | None = None,
    reg: float | None = None,
    batch_size: int | None = None,
    init_scale: float | None = None,
    full: bool = False,
    method: str | None = None,
    job_id: str | None = None,
) -> descent_pb2.GradientCheckRequest:
    """A GradientCheckRequest with the fields given; ``h`` may be a list (error vs h)."""
    hs = [h] if isinstance(h, (int, float)) else list(h or [])
    request = with_optional(
        descent_pb2.GradientCheckRequest(),
        dataset=dataset,
        checks=checks,
        h=hs[0] if len(hs) == 1 else None,
        formula=FORMULA_VALUES[formula] if formula is not None else None,
        seed=seed,
        reg=reg,
        batch_size=batch_size,
        init_scale=init_scale,
        full=full or None,
        method=METHOD_VALUES[method] if method is not None else None,
        job_id=job_id,
    )
    if len(hs) > 1:
        request.h_values.extend(hs)
    return request

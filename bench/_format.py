def bench_line(
    name: str, value: float, unit: str, limit: float | None = None, **extra: object
) -> str:
    """One BENCH line as DESIGN.md defines it."""
    line = f"BENCH {name} value={value:.6g} unit={unit}"
    if limit is not None and limit > 0:
        line += f" limit={limit:.6g} ratio={value / limit:.3g}"
    for key, item in extra.items():
        line += f" {key}={item}"
    return line

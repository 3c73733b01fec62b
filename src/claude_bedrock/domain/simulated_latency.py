"""The ``simulator_latency`` setting read into the simulator's latency profiles (pure).

Its errors are phrased to follow the setting's name: ``simulator_latency 'x' is not ...``.
"""

from __future__ import annotations

from collections.abc import Container

from claude_bedrock.domain.simulator import LatencyProfile

__all__ = ["parse_latency"]


def parse_latency(
    spec: str | None, known_models: Container[str] | None = None
) -> LatencyProfile | dict[str, LatencyProfile] | None:
    """``"500:80"`` or ``"anthropic.claude-haiku-4-5-20251001-v1:0=200:150,*=500:80"``.

    Args:
        known_models: the base model IDs an entry may name (besides ``*``); None = any.

    Raises ValueError naming the bad part.
    """
    if not spec:
        return None

    def profile(text: str) -> LatencyProfile:
        first_ms, sep, rate = text.rpartition(":")
        try:
            if not sep:
                raise ValueError
            return LatencyProfile(float(first_ms) / 1000, float(rate))
        except ValueError:
            raise ValueError(f"{text!r} is not FIRST_TOKEN_MS:TOKENS_PER_S "
                             "(FIRST_TOKEN_MS >= 0 and TOKENS_PER_S > 0, both finite)") from None

    if "=" not in spec:
        return profile(spec)
    profiles: dict[str, LatencyProfile] = {}
    for part in spec.split(","):
        model, sep, value = part.strip().partition("=")
        if not sep or not model:
            raise ValueError(f"entry {part!r} is not MODEL_ID=FIRST_TOKEN_MS:TOKENS_PER_S")
        if known_models is not None and model != "*" and model not in known_models:
            raise ValueError(f"entry {part!r}: {model} is not a base model ID of the catalog")
        profiles[model] = profile(value)
    return profiles

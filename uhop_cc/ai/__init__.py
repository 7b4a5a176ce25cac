"""The LLM closed loop: providers, prompts, code extraction, checks, statuses and `loop.improve`.

Importing this package does not import the `openai` SDK; `providers.ChatClient` does.
"""
from __future__ import annotations

__all__ = ["improve", "apply_outcome", "AiOutcome", "AiAttempt"]


def __getattr__(name):
    if name in __all__:
        from . import loop
        return getattr(loop, name)
    raise AttributeError(name)

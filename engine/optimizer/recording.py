"""Recorded LLM answers: a folder of JSON files keyed by the request's hash.

A walker run over generated strategies asks the LLM the same questions every time it runs
on the same data, so recording the answers once makes later runs reproducible, free and
offline. Each file `<folder>/<key[:2]>/<key>.json` holds the request and the answer.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from engine.optimizer.llm_types import ChatRequest, LlmError


class Recording:
    """Answers recorded in `folder`; `mode` is `auto`, `record` or `replay`."""

    def __init__(self, folder: str | Path, mode: str) -> None:
        self.folder = Path(folder).expanduser()
        self.mode = mode

    def path(self, key: str) -> Path:
        """Return the file of the request whose hash is `key`."""
        return self.folder / key[:2] / f"{key}.json"

    def lookup(self, key: str) -> str | None:
        """Return the recorded answer, or None when the server must be asked.

        Raises:
            LlmError: replay mode and nothing is recorded for `key`, or the file is broken.
        """
        if self.mode == "record":
            return None
        file = self.path(key)
        if not file.is_file():
            if self.mode == "replay":
                raise LlmError(
                    f"no recorded LLM answer for request {key[:12]} in {self.folder} "
                    "(replay mode); record it first with DESK_LLM_RECORD_MODE=auto"
                )
            return None
        try:
            answer = json.loads(file.read_text(encoding="utf-8"))["answer"]
        except (ValueError, KeyError, OSError) as exc:
            raise LlmError(f"the recorded LLM answer {file} is unreadable: {exc}") from None
        if not isinstance(answer, str):
            raise LlmError(f"the recorded LLM answer {file} has no answer text")
        return answer

    def save(self, key: str, request: ChatRequest, answer: str) -> None:
        """Record `answer` to `request` (atomically: a reader never sees half a file)."""
        file = self.path(key)
        file.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "key": key,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "request": request.as_dict(),
            "answer": answer,
        }
        fd, temp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False, indent=1)
        os.replace(temp, file)

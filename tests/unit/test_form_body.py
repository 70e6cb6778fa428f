"""A form body is parsed where it costs nobody else anything: a small one on the event loop (a thread hop would
cost more than the parse), a large one in a worker thread, so that 2 MiB of %-escapes stalls no other request."""

import threading
import urllib.parse

import anyio
import pytest

from jobgate.dialects.common.body import INLINE_FORM_BYTES, form_pairs


def parsed_on(body: bytes, monkeypatch: pytest.MonkeyPatch, **kwargs: bool) -> tuple[list[tuple[str, str]], bool]:
    """(the pairs, whether they were parsed on the thread that awaited form_pairs)"""
    threads: list[int] = []
    original = urllib.parse.parse_qsl

    def noted(*args: object, **kw: object) -> list[tuple[str, str]]:
        threads.append(threading.get_ident())
        return original(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.parse, "parse_qsl", noted)

    async def main() -> tuple[list[tuple[str, str]], bool]:
        pairs = await form_pairs(body, 200, **kwargs)
        return pairs, threads == [threading.get_ident()]

    return anyio.run(main)


def test_a_small_form_is_parsed_on_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs, inline = parsed_on(b"wsId=1&pw=s%20cret&jobId=", monkeypatch)
    assert pairs == [("wsId", "1"), ("pw", "s cret"), ("jobId", "")]
    assert inline


def test_a_large_form_is_parsed_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b"conditions=" + b"%7C" * (INLINE_FORM_BYTES // 3 + 1)
    pairs, inline = parsed_on(body, monkeypatch)
    assert pairs == [("conditions", "|" * (INLINE_FORM_BYTES // 3 + 1))]
    assert not inline


@pytest.mark.parametrize("size", [10, INLINE_FORM_BYTES + 10])
def test_refusals_are_the_same_wherever_the_form_is_parsed(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    fields = b"&".join(b"a=%d" % n for n in range(201))
    with pytest.raises(ValueError, match="Max number of fields"):
        parsed_on(fields + b"&pad=" + b"x" * size, monkeypatch)
    with pytest.raises(UnicodeDecodeError):
        parsed_on(b"a=\xff" + b"x" * size, monkeypatch)
    with pytest.raises(UnicodeDecodeError):
        parsed_on(b"a=%FF" + b"x" * size, monkeypatch, strict=True)

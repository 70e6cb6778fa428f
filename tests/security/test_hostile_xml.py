"""Hostile XML at every XML dialect's front door, through its kit, in this process: the dialect's seed request
(its cancel, by the owner, naming the owner's job) carrying a DOCTYPE (external entities naming a local file or a
URL, an external DTD, parameter entities, a public id), an entity-expansion bomb, deep nesting, too many elements,
processing instructions, the same in UTF-16 and UTF-32, or not well-formed at all.

Each gets the XML gate's refusal in the dialect's words (a Client/Sender fault, or a 400 errorDocument), shows no
internals, carries a request id, reads nothing and fetches nothing, and leaves the store as it was; afterwards the
same seed, sound, still cancels a job.
"""

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

import httpx
import pytest

from support.kits import XML_KITS, DialectKit
from support.kits.base import KitWorld, Sent, Target, World, assert_no_leak, assert_store_unchanged

SECRET: Final = "TOP-SECRET-7f3a9c2e"  # what the local file holds; it must never come back, nor reach the log
FETCHED: Final = "FETCHED-FROM-LISTENER-51d0"  # what the loopback listener would serve
DTD: Final = "DTD is prohibited in this XML document."
# An external entity named in an attribute value (a Trans-WS ticket's jobId) is malformed XML before it is a DTD
# matter: the gate's parser says so first.
ENTITY_IN_ATTRIBUTE: Final = "Entity references are not allowed in this XML document."
PI: Final = "Processing instructions are not allowed in a SOAP message."
XXE_FORMS: Final = {  # the DOCTYPE, and what stands where the job is named
    "general entity": ('<!DOCTYPE e [<!ENTITY xxe SYSTEM "{url}">]>', "&xxe;"),
    "external DTD": ('<!DOCTYPE e SYSTEM "{url}">', None),
    "parameter entity": ('<!DOCTYPE e [<!ENTITY % p SYSTEM "{url}"> %p;]>', "&leak;"),
    "public id": ('<!DOCTYPE e PUBLIC "-//jobgate//x" "{url}">', None),
}
CASES: Final = [
    pytest.param(kit, variant, id=f"{kit.name}-{variant}") for kit in XML_KITS for variant in kit.xml_variants
]


def hostile(seed: Sent, doctype: str = "", named: str | None = None, before_end: str = "") -> bytes:
    """The seed with `doctype` after its XML declaration, `named` where the job is named, and `before_end` just
    before its first end tag (inside the request)."""
    text = seed.body.decode()
    head, rest = ("", text)
    if text.startswith("<?xml"):
        declaration, _, rest = text.partition("?>")
        head = declaration + "?>"
    if named is not None:
        marker = seed.marker
        element, attribute = f">{marker}<", f'"{marker}"'
        rest = rest.replace(element, f">{named}<", 1) if element in rest else rest.replace(attribute, f'"{named}"', 1)
    if before_end:
        rest = rest.replace("</", before_end + "</", 1)
    return (head + doctype + rest).encode()


class Listener:
    """A loopback HTTP server that records every request it gets (and would serve an entity if asked)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                body = f'<!ENTITY leak "{FETCHED}">'.encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    found = Listener()
    found.thread.start()
    assert httpx.get(f"{found.url}/self-test").text.startswith("<!ENTITY")  # it would notice a fetch
    found.paths.clear()
    yield found
    found.httpd.shutdown()
    found.httpd.server_close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(SECRET)
    return path


Refused = Callable[[World, Target, Sent], httpx.Response]


def refused(world: World, target: Target, sent: Sent) -> httpx.Response:
    """Send one hostile request: it must change nothing, show no internals and carry a request id."""
    before = world.store(target.id)
    answer = world.send(sent)
    assert answer.headers.get("x-request-id"), "every answer carries x-request-id"
    assert_no_leak(answer, sent.body)
    assert_store_unchanged(before, world.store(target.id), f"a refused request ({answer.status_code})")
    return answer


def assert_gate_refusal(
    kit: DialectKit, variant: str, answer: httpx.Response, reason: str | None = None, *also: str
) -> str:
    """The dialect's refusal of a request the XML gate turned away: its client code, and the gate's reason (or one
    of `also`)."""
    found = kit.refusal(answer)
    assert found.code.partition(".")[0] == kit.client_code(variant), found
    assert answer.status_code in (400, 500), answer.status_code
    if reason is not None:
        assert found.text in {kit.gate_text(r) for r in (reason, *also)}, found.text
    return found.text


def assert_serves_normally(kit: DialectKit, world: World, variant: str) -> None:
    """The seed, sound, still cancels a fresh job of the owner's."""
    fresh = kit.target(world, "seed")
    answer = world.send(kit.seed(world, variant, fresh))
    assert answer.status_code == 200, answer.text
    assert world.job(fresh.id)[0].state == "Cancelled"  # it never started


def _send(kit: DialectKit, world: World, variant: str, body: bytes) -> Sent:
    return kit.garbage(world, variant, body)


@pytest.mark.parametrize(("kit", "variant"), CASES)
class TestExternalEntities:
    """XXE: no DOCTYPE gets through, and nothing it names is read or fetched."""

    @pytest.mark.parametrize("form", XXE_FORMS)
    def test_xxe_naming_a_local_file_is_refused_and_its_content_never_shows(
        self,
        kit_world: KitWorld,
        kit: DialectKit,
        variant: str,
        form: str,
        secret_file: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        doctype, named = XXE_FORMS[form]
        body = hostile(kit.seed(world, variant, target), doctype.format(url=secret_file.as_uri()), named)
        answer = refused(world, target, _send(kit, world, variant, body))
        assert_gate_refusal(kit, variant, answer, DTD, ENTITY_IN_ATTRIBUTE)
        assert SECRET not in answer.text
        assert SECRET not in caplog.text

    @pytest.mark.parametrize("form", XXE_FORMS)
    def test_xxe_naming_a_url_is_refused_and_nothing_is_fetched(
        self, kit_world: KitWorld, kit: DialectKit, variant: str, form: str, listener: Listener
    ) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        doctype, named = XXE_FORMS[form]
        url = f"{listener.url}/{kit.name}/{variant}/{form.replace(' ', '-')}"
        body = hostile(kit.seed(world, variant, target), doctype.format(url=url), named)
        answer = refused(world, target, _send(kit, world, variant, body))
        assert_gate_refusal(kit, variant, answer, DTD, ENTITY_IN_ATTRIBUTE)
        assert listener.paths == [], f"the server fetched {listener.paths} from the loopback listener"
        assert FETCHED not in answer.text


def billion_laughs(seed: Sent) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return hostile(seed, "<!DOCTYPE lolz [" + "".join(entities) + "]>", "&lol9;")


def quadratic_blowup(seed: Sent) -> bytes:
    """One 50 kB entity referenced 40,000 times: 2 GB once expanded, 170 kB on the wire."""
    return hostile(seed, '<!DOCTYPE q [<!ENTITY a "' + "x" * 50_000 + '">]>', "&a;" * 40_000)


@pytest.mark.parametrize(("kit", "variant"), CASES)
class TestEntityExpansion:
    @pytest.mark.parametrize("attack", [billion_laughs, quadratic_blowup], ids=["billion-laughs", "quadratic"])
    def test_expansion_bombs_are_refused_at_once_and_the_dialect_still_serves(
        self, kit_world: KitWorld, kit: DialectKit, variant: str, attack: Callable[[Sent], bytes]
    ) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        sent = _send(kit, world, variant, attack(kit.seed(world, variant, target)))
        started = time.perf_counter()
        answer = refused(world, target, sent)
        elapsed = time.perf_counter() - started
        assert_gate_refusal(kit, variant, answer, DTD)
        assert elapsed < 2.0, f"refusing {attack.__name__} took {elapsed:.2f} s"  # a refusal bound (store reads too)
        assert_serves_normally(kit, world, variant)


@pytest.mark.parametrize(("kit", "variant"), CASES)
class TestShapeLimits:
    def test_ten_thousand_levels_of_nesting_are_refused(
        self, kit_world: KitWorld, kit: DialectKit, variant: str
    ) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        body = hostile(kit.seed(world, variant, target), before_end="<x>" * 10_000 + "</x>" * 10_000)
        text = assert_gate_refusal(kit, variant, refused(world, target, _send(kit, world, variant, body)))
        assert text.startswith(kit.gate_text("")), text
        assert "nested deeper" in text, text

    def test_too_many_elements_are_refused(self, kit_world: KitWorld, kit: DialectKit, variant: str) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        body = hostile(kit.seed(world, variant, target), before_end="<y/>" * 6_000)
        text = assert_gate_refusal(kit, variant, refused(world, target, _send(kit, world, variant, body)))
        assert text.startswith(kit.gate_text("")), text
        assert "more than" in text, text

    def test_processing_instructions_are_refused(self, kit_world: KitWorld, kit: DialectKit, variant: str) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        body = hostile(kit.seed(world, variant, target), '<?xml-stylesheet href="x.xsl"?>', before_end="<?evil run?>")
        assert_gate_refusal(kit, variant, refused(world, target, _send(kit, world, variant, body)), PI)

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
    def test_a_doctype_in_utf16_or_utf32_is_refused_too(
        self, kit_world: KitWorld, kit: DialectKit, variant: str, encoding: str
    ) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        text = billion_laughs(kit.seed(world, variant, target)).decode()
        text = text.replace('encoding="utf-8"', "").replace('encoding="UTF-8"', "")
        answer = refused(world, target, _send(kit, world, variant, text.encode(encoding)))
        assert_gate_refusal(kit, variant, answer, DTD)

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
    def test_the_seed_in_utf16_or_utf32_is_read_like_in_utf8(
        self, kit_world: KitWorld, kit: DialectKit, variant: str, encoding: str
    ) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        text = kit.seed(world, variant, target).body.decode()
        text = text.replace('encoding="utf-8"', "").replace('encoding="UTF-8"', "")
        answer = world.send(_send(kit, world, variant, text.encode(encoding)))
        assert answer.status_code == 200, answer.text
        assert world.job(target.id)[0].state == "Cancelled"

    def test_xml_that_is_not_well_formed_is_refused(self, kit_world: KitWorld, kit: DialectKit, variant: str) -> None:
        world = kit_world(kit)
        target = kit.target(world, "seed")
        body = kit.seed(world, variant, target).body
        answer = refused(world, target, _send(kit, world, variant, body[: len(body) // 2]))
        if kit.gate_text("").startswith("Server was unable"):  # ASMX: 400 and an empty body
            assert (answer.status_code, answer.content) == (400, b"")
        else:
            assert_gate_refusal(kit, variant, answer)

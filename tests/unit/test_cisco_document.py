"""Cisco's answer tree written as XML and as the JSON of each version (seed 003's rules), and the per-user
limit on requests in flight."""

import json

import pytest
from lxml import etree

from jobgate.dialects.cisco.auth import InFlight
from jobgate.dialects.cisco.document import Many, Node, Version, node, to_json, to_xml
from jobgate.dialects.cisco.errors import RateLimited


def _answer(*ids: int) -> Node:
    items = tuple(node(id=i, message="m") for i in ids)
    return node({"responseType": "operation", "requestUrl": "u"}, result=Many((node(ok=node(ok=Many(items))),)))


class TestJson:
    def test_v1_writes_a_one_element_list_as_the_element_and_keeps_the_xml_order(self) -> None:
        written = json.loads(to_json("r", _answer(7), Version.V1))
        assert written == {"r": {"@responseType": "operation", "@requestUrl": "u",
                                 "result": {"ok": {"ok": {"id": 7, "message": "m"}}}}}  # fmt: skip
        assert list(written["r"]) == ["@responseType", "@requestUrl", "result"]

    def test_v1_writes_longer_lists_as_arrays_and_leaves_out_empty_ones(self) -> None:
        assert json.loads(to_json("r", _answer(1, 2), Version.V1))["r"]["result"]["ok"]["ok"] == [
            {"id": 1, "message": "m"}, {"id": 2, "message": "m"}]  # fmt: skip
        assert json.loads(to_json("r", _answer(), Version.V1))["r"]["result"]["ok"] == {}

    @pytest.mark.parametrize("version", [Version.V2, Version.V3])
    def test_v2_and_v3_always_write_arrays_and_sort_keys(self, version: Version) -> None:
        written = json.loads(to_json("r", _answer(7), version))
        assert list(written["r"]) == ["@requestUrl", "@responseType", "result"]
        assert written["r"]["result"] == [{"ok": {"ok": [{"id": 7, "message": "m"}]}}]
        assert json.loads(to_json("r", _answer(), version))["r"]["result"] == [{"ok": {"ok": []}}]

    def test_an_unsorted_answer_keeps_its_order_in_every_version(self) -> None:
        tree = node(zeta=1, alpha=2)
        assert list(json.loads(to_json("e", tree, Version.V3, sort=False))["e"]) == ["zeta", "alpha"]

    def test_an_always_array_list_is_an_array_in_v1_and_text_with_attributes_is_dollar(self) -> None:
        item = Node((("type", "JobSummary"),), text="12")
        written = json.loads(to_json("q", node(entityId=Many((item,), always_array=True)), Version.V1))
        assert written == {"q": {"entityId": [{"@type": "JobSummary", "$": "12"}]}}


class TestXml:
    def test_lists_repeat_their_element_and_an_empty_list_leaves_its_wrapper_empty(self) -> None:
        root = etree.fromstring(to_xml("r", _answer(1, 2)))
        assert [e.findtext("id") for e in root.iterfind("result/ok/ok")] == ["1", "2"]
        empty = etree.fromstring(to_xml("r", _answer()))
        wrapper = empty.find("result/ok")
        assert wrapper is not None
        assert len(wrapper) == 0

    def test_text_xml_cannot_carry_is_replaced(self) -> None:
        root = etree.fromstring(to_xml("e", node(message="a\x00b\x1fc")))
        assert root.findtext("message") == "a\ufffdb\ufffdc"


class TestInFlight:
    def test_one_request_past_the_limit_is_refused_and_a_released_slot_is_free_again(self) -> None:
        limit = InFlight(2)
        with limit.slot("a"), limit.slot("a"):
            with pytest.raises(RateLimited), limit.slot("a"):
                pass
            with limit.slot("b"):  # another user has slots of their own
                pass
        with limit.slot("a"), limit.slot("a"):
            pass

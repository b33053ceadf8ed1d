"""The outbound address rules: every resolved address vetted, IPv6 forms unwrapped."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from coagent_workflow_engine.runtime.http_call import HttpRequest, _next_hop
from coagent_workflow_engine.runtime.ssrf import (
    EgressPolicy,
    EgressRefused,
    IPAddress,
    embedded_ipv4,
    forbidden_reason,
    vet,
)
from coagent_workflow_engine.runtime.templates import render_url, render_value


class FixedResolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        return [ipaddress.ip_address(a) for a in self.answers.get(host, [])]


def policy(answers: dict[str, list[str]], allow: tuple[str, ...] = ()) -> EgressPolicy:
    base = EgressPolicy.of(allow)
    return EgressPolicy(allow=base.allow, resolver=FixedResolver(answers))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "not a public address"),
        ("100.100.100.200", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "metadata"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
    ],
)
def test_internal_addresses_are_refused_with_a_reason(address: str, why: str) -> None:
    reason = forbidden_reason(ipaddress.ip_address(address))
    assert reason is not None
    assert why in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_embedded_ipv4_unwraps_mapped_and_nat64_forms() -> None:
    assert str(embedded_ipv4(ipaddress.ip_address("::ffff:8.8.8.8"))) == "8.8.8.8"
    assert str(embedded_ipv4(ipaddress.ip_address("64:ff9b::808:808"))) == "8.8.8.8"
    assert embedded_ipv4(ipaddress.ip_address("2606:4700::1")) is None
    assert embedded_ipv4(ipaddress.ip_address("8.8.8.8")) is None


async def test_every_resolved_address_must_be_public() -> None:
    rules = policy({"mixed.example": ["93.184.215.14", "10.0.0.7"]})
    with pytest.raises(EgressRefused, match="10.0.0.7, a private address"):
        await vet("https://mixed.example/x", rules)


async def test_a_vetted_target_connects_to_the_address_and_keeps_the_name() -> None:
    rules = policy({"api.example": ["93.184.215.14"]})
    target = await vet("https://api.example/v1/items?q=1", rules)
    assert target.connect_url == "https://93.184.215.14:443/v1/items?q=1"
    assert target.host_header == "api.example"
    v6 = await vet("http://[2606:4700:4700::1111]:8080/", rules)
    assert v6.connect_url == "http://[2606:4700:4700::1111]:8080/"
    assert v6.host_header == "[2606:4700:4700::1111]:8080"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("http:///nohost", "no host"),
        ("http://user:pw@example.org/", "credentials"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://unknown.example/", "has no address"),
    ],
)
async def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(EgressRefused, match=message):
        await vet(url, policy({}))


async def test_the_allow_list_exempts_only_its_networks() -> None:
    rules = policy({"local.test": ["127.0.0.1"]}, allow=("127.0.0.1/32",))
    assert str((await vet("http://local.test:8080/", rules)).address) == "127.0.0.1"
    with pytest.raises(EgressRefused, match="loopback"):
        await vet("http://127.0.0.2/", rules)
    with pytest.raises(EgressRefused, match="metadata"):
        await vet("http://169.254.169.254/", rules)


def test_url_templates_encode_values_so_they_cannot_change_the_host() -> None:
    state = {"q": "a b/../@evil.example?x=1#f", "id": 7}
    url = render_url("https://api.example/items/{{id}}?q={{q}}", state)
    assert url == "https://api.example/items/7?q=a%20b%2F..%2F%40evil.example%3Fx%3D1%23f"


def test_body_templates_keep_json_types_for_whole_placeholders() -> None:
    state = {"score": 9, "tags": ["a"], "name": "Ada"}
    body = {"score": "{{score}}", "tags": "{{ tags }}", "text": "hi {{name}}", "n": [1, "{{x}}"]}
    assert render_value(body, state) == {
        "score": 9,
        "tags": ["a"],
        "text": "hi Ada",
        "n": [1, None],
    }


def test_a_redirect_keeps_headers_only_on_the_same_origin() -> None:
    sent = HttpRequest("POST", "https://api.example/a", {"Authorization": "secret"}, {"x": 1})

    def hop(status: int, location: str) -> HttpRequest:
        return _next_hop(sent, httpx.Response(status, headers={"location": location}), sent.url)

    same = hop(307, "/b")
    assert (same.url, same.method, same.body) == ("https://api.example/b", "POST", {"x": 1})
    assert same.headers == {"Authorization": "secret"}
    elsewhere = hop(302, "https://other.example/c")
    assert (elsewhere.method, elsewhere.body, elsewhere.headers) == ("GET", None, {})


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "localhost"])
async def test_numeric_and_local_names_are_judged_by_what_they_resolve_to(host: str) -> None:
    with pytest.raises(EgressRefused, match="loopback"):
        await vet(f"http://{host}:8080/", EgressPolicy())  # the system resolver, no network

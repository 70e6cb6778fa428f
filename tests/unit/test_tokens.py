"""The token service: random tokens, only their hashes stored, a lifetime per kind, revocable; checking one
costs no password hash."""

from datetime import timedelta

import pytest

from jobgate.domain.errors import BadCredentials
from jobgate.domain.model import Channel, CredentialKind, Credentials, User
from jobgate.services import Identity, TokenService
from support.fakes import FakeClock, FakeHasher, FakeUnitOfWork


@pytest.fixture
def erin(identity: Identity) -> User:
    return identity.add_user("erin", "erin-password")


def creds(token: str, kind: str) -> Credentials:
    return Credentials("", token, CredentialKind.TOKEN, kind, "10.0.0.9")


class TestIssue:
    def test_a_token_is_32_hex_characters_and_only_its_hash_is_stored(
        self, identity: Identity, uow: FakeUnitOfWork, erin: User
    ) -> None:
        issued = identity.issue_token(erin, "birst")

        assert len(issued.token) == 32
        assert set(issued.token) <= set("0123456789abcdef")
        assert issued.token not in uow.tokens.rows
        assert all(issued.token not in repr(row) for row in uow.tokens.rows.values())

    def test_two_tokens_are_never_the_same(self, identity: Identity, erin: User) -> None:
        assert len({identity.issue_token(erin, "arcgis").token for _ in range(50)}) == 50

    def test_each_kind_lives_as_long_as_its_policy_says(self, identity: Identity, clock: FakeClock, erin: User) -> None:
        now = clock.now()
        assert identity.issue_token(erin, "birst").expires_at == now + timedelta(seconds=600)
        assert identity.issue_token(erin, "arcgis").expires_at == now + timedelta(seconds=3600)
        assert identity.issue_token(erin, "other").expires_at == now + timedelta(seconds=3600)

    def test_a_client_may_ask_for_a_longer_life_only_up_to_the_kind_s_maximum(
        self, identity: Identity, clock: FakeClock, erin: User
    ) -> None:
        now = clock.now()
        assert identity.issue_token(erin, "arcgis", 7200).expires_at == now + timedelta(seconds=7200)
        assert identity.issue_token(erin, "arcgis", 10**9).expires_at == now + timedelta(days=1)
        assert identity.issue_token(erin, "birst", 10**9).expires_at == now + timedelta(seconds=600)


class TestCheck:
    def test_a_live_token_proves_its_owner_without_a_password_hash(
        self, identity: Identity, hasher: FakeHasher, erin: User
    ) -> None:
        token = identity.issue_token(erin, "arcgis").token
        before = hasher.verify_calls

        assert identity.authenticate(creds(token, "arcgis"), Channel.ARCGIS).name == "erin"
        assert hasher.verify_calls == before

    def test_a_token_is_good_only_for_its_own_kind(self, identity: Identity, erin: User) -> None:
        token = identity.issue_token(erin, "arcgis").token
        with pytest.raises(BadCredentials):
            identity.authenticate(creds(token, "birst"), Channel.BIRST)

    def test_an_expired_token_is_refused(self, identity: Identity, clock: FakeClock, erin: User) -> None:
        token = identity.issue_token(erin, "arcgis", 60).token
        clock.advance(60)
        with pytest.raises(BadCredentials):
            identity.authenticate(creds(token, "arcgis"), Channel.ARCGIS)

    def test_a_revoked_token_is_refused_at_once(self, identity: Identity, erin: User) -> None:
        token = identity.issue_token(erin, "birst").token
        identity.authenticate(creds(token, "birst"), Channel.BIRST)

        assert identity.revoke_token(token) is True
        with pytest.raises(BadCredentials):
            identity.authenticate(creds(token, "birst"), Channel.BIRST)
        assert identity.revoke_token(token) is False

    def test_a_sliding_token_in_use_lives_on_and_an_idle_one_dies(
        self, identity: Identity, clock: FakeClock, erin: User
    ) -> None:
        busy, idle = identity.issue_token(erin, "birst").token, identity.issue_token(erin, "birst").token
        for _ in range(5):  # 5 × 400 s: far past one 600 s lifetime, each use within it
            clock.advance(400)
            assert identity.authenticate(creds(busy, "birst"), Channel.BIRST).name == "erin"
        with pytest.raises(BadCredentials):
            identity.authenticate(creds(idle, "birst"), Channel.BIRST)

    def test_a_fixed_token_ends_on_time_however_much_it_is_used(
        self, tokens: TokenService, clock: FakeClock, identity: Identity, erin: User
    ) -> None:
        token = identity.issue_token(erin, "arcgis").token
        for _ in range(3):
            clock.advance(1000)
            holder = tokens.holder(token, "arcgis")
            assert holder is not None
            assert holder.name == "erin"
        clock.advance(600)
        assert tokens.holder(token, "arcgis") is None

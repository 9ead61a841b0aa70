"""The pure part of the webhook sender: delays, body bytes and signatures."""

from __future__ import annotations

import random

import pytest

from cloud.webhook_policy import RetryPolicy, body_bytes, retry_delay_s, signature, verify


def test_delays_double_from_one_second_to_the_ten_minute_cap_with_jitter() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    for attempt, nominal in ((1, 1), (2, 2), (3, 4), (5, 16), (10, 512), (11, 600), (40, 600)):
        delays = [retry_delay_s(attempt, policy, rng) for _ in range(200)]
        assert min(delays) >= nominal * 0.8 - 1e-9, attempt
        assert max(delays) <= min(nominal * 1.2, 600) + 1e-9, attempt
        # Jittered: the delays are not all the same.
        assert max(delays) - min(delays) > nominal * 0.1, attempt
    exact = RetryPolicy(jitter=0.0)
    assert [retry_delay_s(n, exact, rng) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert retry_delay_s(10_000, exact, rng) == 600


def test_policy_refuses_settings_that_would_misbehave() -> None:
    for kwargs in (
        {"max_attempts": 0},
        {"first_delay_s": 0},
        {"first_delay_s": 700},
        {"jitter": 1.0},
        {"lease_s": 5.0, "timeout_s": 5.0},
    ):
        with pytest.raises(ValueError):
            RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    # RFC-style known answer (HMAC-SHA256, key "key", the quick brown fox).
    fox = b"The quick brown fox jumps over the lazy dog"
    assert signature("key", fox) == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
    body = body_bytes({"status": "packed", "order_id": "ord-1", "reason": "已打包"})
    assert body == '{"order_id":"ord-1","reason":"已打包","status":"packed"}'.encode()
    header = signature("s3cret-s3cret", body)
    assert verify("s3cret-s3cret", body, header)
    assert not verify("other-secret", body, header)
    assert not verify("s3cret-s3cret", body + b" ", header)

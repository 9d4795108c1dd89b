"""Crypto-PAn: reference vectors, prefix preservation, key files, caching, networks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from darkstack.anonymise import CryptoPAn, load_key
from darkstack.errors import DarkstackError
from darkstack.schema import int_to_ip, ip_to_int

# Key and address pairs of the sample distributed with the original Crypto-PAn implementation.
SAMPLE_KEY = bytes([21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
                    216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2])
SAMPLE = {"128.11.68.132": "135.242.180.132", "129.118.74.4": "134.136.186.123",
          "130.132.252.244": "133.68.164.234", "141.223.7.43": "141.167.8.160",
          "141.233.145.108": "141.129.237.235"}
CPAN = CryptoPAn(SAMPLE_KEY)


def test_reference_vectors():
    got = int_to_ip(CPAN.anonymise(ip_to_int(list(SAMPLE))))
    assert got.tolist() == list(SAMPLE.values())


def common_prefix(a: int, b: int) -> int:
    return 32 - int(a ^ b).bit_length()


@settings(max_examples=200, deadline=None)
@given(a=st.integers(0, 2**32 - 1), b=st.integers(0, 2**32 - 1))
def test_prefix_preserving(a, b):
    x, y = CPAN.anonymise(np.array([a, b], np.uint32)).tolist()
    assert common_prefix(x, y) == common_prefix(a, b)


def test_vectorised_cache_matches_fresh_and_is_a_bijection():
    rng = np.random.default_rng(0)
    addrs = rng.integers(0, 2**32, 5000, dtype=np.uint32)
    fresh = CryptoPAn(SAMPLE_KEY)
    first = fresh.anonymise(addrs[:3000])
    both = fresh.anonymise(addrs)  # half from the cache
    assert np.array_equal(both[:3000], first)
    assert np.array_equal(both, CryptoPAn(SAMPLE_KEY).anonymise(addrs))
    uniq = np.unique(addrs)
    assert np.unique(CPAN.anonymise(uniq)).size == uniq.size


def test_networks_map_to_the_anonymised_prefix():
    net = ip_to_int(["10.20.0.0"])
    mapped = CPAN.anonymise_network(net, np.array([16]))[0]
    hosts = CPAN.anonymise(ip_to_int(["10.20.0.1", "10.20.255.7"]))
    assert all((int(h) & 0xFFFF0000) == int(mapped) for h in hosts)
    assert int(mapped) & 0xFFFF == 0


def test_key_files(tmp_path):
    (tmp_path / "raw").write_bytes(SAMPLE_KEY)
    (tmp_path / "hex").write_text(SAMPLE_KEY.hex() + "\n")
    assert load_key(tmp_path / "raw") == load_key(tmp_path / "hex") == SAMPLE_KEY
    (tmp_path / "short").write_bytes(b"x" * 31)
    with pytest.raises(DarkstackError, match="short.*32 bytes"):
        load_key(tmp_path / "short")
    with pytest.raises(DarkstackError, match="cannot read"):
        load_key(tmp_path / "absent")

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from embaug_core.errors import ConfigError
from embaug_core.training.augment import (
    METHOD_NAMES,
    augment_batch,
    draw_partners,
    e_mixup,
    e_stitchup,
    mix_pairs,
    sample_beta,
    soften_labels,
    stitch_pairs,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def one_hot(idx, c):
    return torch.nn.functional.one_hot(torch.as_tensor(idx), c).float()


# ------------------------------------------------------------------ hand-computed values


def test_mix_pairs_hand_values():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = one_hot([0, 1], 2)
    xm, ym = mix_pairs(x, y, torch.tensor([1, 0]), torch.tensor([0.25, 1.0]))
    assert torch.allclose(xm, torch.tensor([[2.5, 3.5], [3.0, 4.0]]))
    assert torch.allclose(ym, torch.tensor([[0.25, 0.75], [0.0, 1.0]]))


def test_stitch_pairs_hand_values():
    x = torch.tensor([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    y = one_hot([0, 1], 2)
    keep = torch.tensor([[True, False, True], [False, False, True]])
    xs, ys = stitch_pairs(x, y, torch.tensor([1, 0]), torch.tensor([0.6, 0.2]), keep)
    assert torch.equal(xs, torch.tensor([[1.0, 20.0, 3.0], [1.0, 2.0, 30.0]]))
    assert torch.allclose(ys, torch.tensor([[0.6, 0.4], [0.8, 0.2]]))


@pytest.mark.parametrize(
    "targets, softness, mass, expected",
    [
        ([1.0, 0.0, 0.0, 0.0], 0.1, 1.0, [0.9, 1 / 3, 1 / 3, 1 / 3]),
        ([0.7, 0.3, 0.0, 0.0], 0.1, 1.0, [0.6, 0.2, 0.5, 0.5]),
        # a small non-zero target is clamped at 0 and does not receive any of the mass
        ([0.05, 0.95, 0.0, 0.0], 0.1, 1.0, [0.0, 0.85, 0.5, 0.5]),
        ([1.0, 0.0, 0.0, 0.0], 0.2, 0.3, [0.8, 0.1, 0.1, 0.1]),
        # no zero-target class: nothing to spread
        ([0.5, 0.5], 0.1, 1.0, [0.4, 0.4]),
    ],
)
def test_soften_labels_hand_values(targets, softness, mass, expected):
    out = soften_labels(torch.tensor([targets]), softness, mass=mass)
    assert torch.allclose(out, torch.tensor([expected]), atol=1e-6)


def test_soften_zero_is_identity():
    t = torch.tensor([[0.3, 0.7, 0.0]])
    assert torch.equal(soften_labels(t, 0.0, mass=0.0), t)


# ------------------------------------------------------------------ invariants / properties


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(2, 12),
    d=st.integers(1, 20),
    c=st.integers(2, 6),
    alpha=st.floats(0.05, 5.0),
    seed=st.integers(0, 2**31 - 1),
)
@example(b=2, d=1, c=2, alpha=0.05, seed=0)
def test_stitched_coordinates_come_from_one_of_the_two_rows(b, d, c, alpha, seed):
    g = gen(seed)
    x = torch.randn(b, d, generator=g)
    y = one_hot(torch.randint(0, c, (b,), generator=g), c)
    g2 = gen(seed + 1)
    state = g2.get_state()
    xs, ys = e_stitchup(x, y, alpha=alpha, generator=g2)
    g2.set_state(state)
    partner = draw_partners(b, generator=g2)
    lam = sample_beta(alpha, b, generator=g2)
    from_self = xs == x
    from_partner = xs == x[partner]
    assert bool((from_self | from_partner).all())
    assert torch.allclose(ys, lam[:, None] * y + (1 - lam[:, None]) * y[partner], atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(b=st.integers(2, 12), d=st.integers(1, 20), alpha=st.floats(0.05, 5.0), seed=st.integers(0, 2**31 - 1))
def test_mixup_targets_are_lambda_weighted_and_rows_sum_to_one(b, d, alpha, seed):
    g = gen(seed)
    x = torch.randn(b, d, generator=g)
    y = one_hot(torch.randint(0, 3, (b,), generator=g), 3)
    state = g.get_state()
    xm, ym = e_mixup(x, y, alpha=alpha, generator=g)
    g.set_state(state)
    partner = draw_partners(b, generator=g)
    lam = sample_beta(alpha, b, generator=g)
    assert torch.allclose(xm, lam[:, None] * x + (1 - lam[:, None]) * x[partner], atol=1e-5)
    assert torch.allclose(ym, lam[:, None] * y + (1 - lam[:, None]) * y[partner], atol=1e-6)
    assert torch.allclose(ym.sum(1), torch.ones(b), atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(b=st.integers(2, 50), seed=st.integers(0, 2**31 - 1))
def test_partners_are_never_the_row_itself_and_form_a_permutation(b, seed):
    partner = draw_partners(b, generator=gen(seed))
    assert bool((partner != torch.arange(b)).all())
    assert sorted(partner.tolist()) == list(range(b))


def test_lambda_one_keeps_the_row_and_lambda_zero_takes_the_partner():
    # Every row has a different partner with different values, so a row that silently took
    # anything from its partner would show. lam = 1 must change nothing, lam = 0 must give
    # the partner exactly, for mixing and for stitching with the mask drawn as e_stitchup does.
    x = torch.randn(6, 7, generator=gen()) + torch.arange(6.0)[:, None] * 10  # rows far apart
    y = one_hot([0, 1, 2, 0, 1, 2], 3)
    partner = torch.tensor([1, 2, 3, 4, 5, 0])
    lam = torch.tensor([1.0, 0.0, 1.0, 0.5, 0.0, 1.0])
    xm, ym = mix_pairs(x, y, partner, lam)
    keep = torch.rand(6, 7, generator=gen(1)) < lam[:, None]  # as in e_stitchup
    xs, ys = stitch_pairs(x, y, partner, lam, keep)
    for out_x, out_y in ((xm, ym), (xs, ys)):
        ones, zeros = lam == 1, lam == 0
        assert torch.equal(out_x[ones], x[ones]) and torch.equal(out_y[ones], y[ones])
        assert torch.equal(out_x[zeros], x[partner][zeros]) and torch.equal(out_y[zeros], y[partner][zeros])
        assert not torch.equal(out_x[3], x[3])  # lam = 0.5 does mix
    assert torch.equal(ym[3], 0.5 * y[3] + 0.5 * y[partner[3]])


def test_defect_4_soft_mass_is_capped_so_targets_stay_at_most_one():
    # two classes, one zero-target class: the whole mass lands on it
    y = one_hot([0], 2)
    assert soften_labels(y, 0.1, mass=1.0)[0].tolist() == pytest.approx([0.9, 1.0])
    with pytest.raises(ConfigError, match="mass"):
        soften_labels(y, 0.1, mass=1.5)
    from embaug_core.training.config import TrainConfig

    with pytest.raises(ConfigError, match="soft_mass"):
        TrainConfig(soft_mass=2.0)


@pytest.mark.parametrize("alpha", [float("inf"), float("nan"), -1.0])
def test_defect_5_non_finite_alpha_is_refused_not_hung(alpha):
    import threading

    outcome = []

    def draw():
        try:
            sample_beta(alpha, 4, generator=gen())
            outcome.append("returned")
        except ConfigError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=draw, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert outcome and "alpha" in outcome[0], "sample_beta hung or accepted a non-finite alpha"
    with pytest.raises(ConfigError, match="alpha"):
        e_mixup(torch.zeros(3, 2), one_hot([0, 1, 0], 2), alpha=alpha, generator=gen())


@settings(max_examples=40, deadline=None)
@given(
    t=st.lists(st.floats(0, 1), min_size=2, max_size=8),
    softness=st.floats(0, 1),
    mass=st.floats(0, 1),
)
@example(t=[0.0, 0.0], softness=0.5, mass=1.0)
def test_softening_follows_the_rule(t, softness, mass):
    targets = torch.tensor([t], dtype=torch.float64)
    out = soften_labels(targets, softness, mass=mass)[0]
    zero = targets[0] == 0
    assert torch.allclose(out[~zero], (targets[0][~zero] - softness).clamp_min(0))
    if zero.any():
        assert torch.allclose(out[zero], torch.full((int(zero.sum()),), mass / int(zero.sum()), dtype=torch.float64))
        assert abs(float(out[zero].sum()) - mass) < 1e-9
    assert bool(((out >= 0) & (out <= 1)).all())


def test_stitch_keeps_about_lambda_of_the_coordinates():
    g = gen(3)
    x = torch.zeros(64, 4096)
    x2 = x.clone()
    x2[1::2] = 1.0  # odd rows are ones, so the source of every coordinate is visible
    y = one_hot(torch.zeros(64, dtype=torch.long), 2)
    state = g.get_state()
    xs, _ = e_stitchup(x2, y, alpha=1.0, generator=g)
    g.set_state(state)
    partner = draw_partners(64, generator=g)
    lam = sample_beta(1.0, 64, generator=g)
    differs = x2[partner][:, 0] != x2[:, 0]
    kept = (xs == x2).float().mean(1)  # share of coordinates from the row itself
    from_partner_rows = 1 - (xs == x2[partner]).float().mean(1)
    assert torch.allclose(kept[differs], lam[differs], atol=0.04)
    assert torch.allclose(from_partner_rows[differs], lam[differs], atol=0.04)


@pytest.mark.parametrize("alpha", [0.1, 0.4, 1.0, 3.0])
def test_beta_sampler_matches_scipy(alpha):
    lam = sample_beta(alpha, 50_000, generator=gen(11), dtype=torch.float64).numpy()
    assert np.all((lam >= 0) & (lam <= 1))
    # empirical vs exact CDF on an interior grid (the ends hold point masses in floating point)
    q = np.linspace(0.01, 0.99, 99)
    ecdf = (lam[:, None] <= q).mean(axis=0)
    assert np.abs(ecdf - scipy.stats.beta(alpha, alpha).cdf(q)).max() < 0.01


def test_beta_sampler_is_reproducible_and_uses_only_the_generator():
    torch.manual_seed(0)
    a = sample_beta(0.4, 100, generator=gen(5))
    torch.manual_seed(123)  # the global RNG must not matter
    b = sample_beta(0.4, 100, generator=gen(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_beta(0.4, 100, generator=gen(6)))


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_augment_batch_shapes_and_ranges(method):
    x = torch.randn(8, 5, generator=gen())
    y = one_hot([0, 1, 2, 3, 0, 1, 2, 3], 4)
    xa, ya = augment_batch(method, x, y, alpha=0.4, softness=0.1, generator=gen(1))
    assert xa.shape == x.shape and ya.shape == y.shape
    assert bool(((ya >= 0) & (ya <= 1)).all())
    if method == "control":
        assert torch.equal(xa, x) and torch.equal(ya, y)
    if method == "soft_control":
        assert torch.equal(xa, x)
        assert torch.allclose(ya.max(1).values, torch.full((8,), 0.9))


def test_bad_parameters_raise():
    with pytest.raises(ConfigError, match="alpha"):
        sample_beta(0.0, 3, generator=gen())
    with pytest.raises(ConfigError, match="at least 2 rows"):
        draw_partners(1, generator=gen())
    with pytest.raises(ConfigError, match="unknown method 'mixup'"):
        augment_batch("mixup", torch.zeros(2, 2), torch.zeros(2, 2), alpha=1, softness=0, generator=gen())


def test_shared_stitch_mask_keeps_the_per_row_distribution():
    g = gen(7)
    b, d = 8, 20000
    x = torch.zeros(b, d)
    x[1::2] = 1.0  # odd rows are ones, even rows zeros: the source of each coordinate is visible
    y = one_hot(torch.arange(b) % 2, 2)
    state = g.get_state()
    xs, ys = e_stitchup(x, y, alpha=1.0, generator=g, mask="shared")
    g.set_state(state)
    partner = draw_partners(b, generator=g)
    lam = sample_beta(1.0, b, generator=g)
    assert bool(((xs == x) | (xs == x[partner])).all())  # every coordinate from one of the two rows
    differs = x[partner][:, 0] != x[:, 0]  # rows paired with a row of the other value
    kept = (xs == x).float().mean(1)
    assert differs.any()
    assert torch.allclose(kept[differs], lam[differs], atol=0.02)  # each row keeps about lam of its coordinates
    assert torch.allclose(ys, lam[:, None] * y + (1 - lam[:, None]) * y[partner], atol=1e-6)
    with pytest.raises(ConfigError, match="stitch mask"):
        e_stitchup(x, y, alpha=1.0, generator=g, mask="diagonal")


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 0.97, 1.0])
def test_per_row_stitch_mask_keeps_each_coordinate_with_probability_lambda(lam):
    from embaug_core.training.augment import stitch_keep

    g = gen(3)
    keep = stitch_keep(torch.full((4,), lam), 50_001, generator=g)  # odd width: the last word half-used
    assert keep.shape == (4, 50_001) and keep.dtype == torch.bool
    rate = keep.double().mean(dim=1)
    sd = max((lam * (1 - lam) / 50_001) ** 0.5, 1e-12)
    assert ((rate - lam).abs() <= 5 * sd + 2**-15).all()
    if lam in (0.0, 1.0):
        assert (rate == lam).all()
    # neighbouring coordinates (two halves of one random word) are independent
    a, b = keep[:, 0::2][:, :25_000].double(), keep[:, 1::2][:, :25_000].double()
    both = (a * b).mean().item()
    assert abs(both - lam * lam) <= 5 * sd * 2 + 2**-14


def test_dropout_from_random_bits_drops_p_and_keeps_the_expected_value():
    """bits.dropout_keep: drop probability round(p * 2**15) / 2**15, kept values scaled by its exact inverse."""
    from embaug_core.training.bits import dropout_keep, uniform15

    values = uniform15(200, 1001, generator=gen(5))
    assert values.dtype == torch.int16 and values.shape == (200, 1001)
    assert int(values.min()) == 0 and int(values.max()) == 2**15 - 1  # the whole 15-bit range, nothing more
    keep, scale = dropout_keep(400, 2_501, 0.3, generator=gen(6))
    assert scale == pytest.approx(2**15 / (2**15 - 9830))  # 9830 = round(0.3 * 2**15): drops 0.299988
    n = keep.numel()
    assert abs(1 - keep.double().mean().item() - 9830 / 2**15) <= 5 * (0.21 / n) ** 0.5
    assert abs(keep.double().mean().item() * scale - 1.0) <= 5 * (0.21 / n) ** 0.5 * scale  # E[kept * scale] = 1
    again, _ = dropout_keep(400, 2_501, 0.3, generator=gen(6))
    assert torch.equal(keep, again)  # the generator decides it
    none, one = dropout_keep(10, 10, 0.0, generator=gen(7))
    assert none.all() and one == 1.0
    almost, most = dropout_keep(10, 10, 1 - 2**-17, generator=gen(7))  # rounds to 2**15: keeps 1 in 2**15
    assert most == 2**15 and almost.sum() <= 1

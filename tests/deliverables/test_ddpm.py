"""ddpm: the noise schedule, forward process, posterior and sampling steps against diffusers' DDPMScheduler /
DDIMScheduler (explicit tolerances), the closed form q(x_t | x_0) against iterated noising, the denoiser,
and the estimator against the reference (the same network through diffusers' schedulers). Smoke sizes:
each test runs in seconds on the CPU."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler
from sklearn.exceptions import NotFittedError

from models.phase3.ddpm.metrics import ddim_seconds_per_1000, fid_samples
from models.phase3.ddpm.model import DDPM, Denoiser, DenoiserConfig, timestep_embedding
from models.phase3.ddpm.reference import DiffusersDDPM
from models.phase3.ddpm.schedule import NoiseSchedule, make_betas

SCHEDULES = [("linear", 1000), ("scaled_linear", 300), ("squaredcos_cap_v2", 200)]
DDIM_CASES = [("leading", 0.0, False), ("trailing", 0.0, True), ("trailing", 0.5, False), ("leading", 1.0, True)]
SMOKE = dict(width=32, depth=1, time_dim=16, num_train_timesteps=40, ddim_steps=8, max_epochs=3, device="cpu",
             random_state=0)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Smoke-sized networks gain nothing from more threads, and lose much to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def fitted(digits):
    images, labels = digits
    return DDPM(**SMOKE).fit(labels[:300, None], images[:300])


def _close(ours, theirs, atol):
    return torch.testing.assert_close(ours.double(), theirs.double(), atol=atol, rtol=0)


# -- the schedule against DDPMScheduler -----------------------------------------------------------
@pytest.mark.parametrize(("name", "steps"), SCHEDULES)
def test_betas_and_alphas_cumprod_equal_ddpm_schedulers(name, steps):
    ours, theirs = NoiseSchedule.build(name, steps), DDPMScheduler(num_train_timesteps=steps, beta_schedule=name)
    _close(ours.betas, theirs.betas, 1e-6)
    _close(ours.alphas, theirs.alphas, 1e-6)
    _close(ours.alphas_cumprod, theirs.alphas_cumprod, 1e-6)


def _scheduler_posterior(scheduler: DDPMScheduler, t: int) -> tuple[float, float]:
    """(c0, ct) read off DDPMScheduler.step, which is linear in x_t and x0_hat: float64 inputs, no clipping,
    and the same generator seed in each call so that its posterior noise cancels."""

    def prev(x: float, eps: float) -> float:
        generator = torch.Generator().manual_seed(t)
        sample, output = torch.full((1, 1), x, dtype=torch.float64), torch.full((1, 1), eps, dtype=torch.float64)
        return float(scheduler.step(output, t, sample, generator=generator).prev_sample)

    abar = float(scheduler.alphas_cumprod[t])
    noise = prev(0.0, 0.0)
    c0 = prev(0.0, -((abar / (1 - abar)) ** 0.5)) - noise  # x0_hat = 1, x_t = 0
    ct = prev(1.0, 0.0) - noise - c0 / abar**0.5  # x0_hat = 1 / sqrt(abar), x_t = 1
    return c0, ct


@pytest.mark.parametrize(("name", "steps"), [("linear", 1000), ("squaredcos_cap_v2", 200)])
def test_posterior_mean_coefficients_and_variance_equal_ddpm_schedulers(name, steps):
    ours = NoiseSchedule.build(name, steps)
    theirs = DDPMScheduler(num_train_timesteps=steps, beta_schedule=name, clip_sample=False)
    theirs.set_timesteps(steps)
    c0, ct = ours.posterior_mean_coefficients()
    picked = sorted({0, 1, 2, 3, 10, steps // 2, steps - 2, steps - 1, *range(0, steps, steps // 25)})
    expected = np.array([_scheduler_posterior(theirs, t) for t in picked])
    np.testing.assert_allclose(c0[picked].double().numpy(), expected[:, 0], atol=1e-6, rtol=0)
    np.testing.assert_allclose(ct[picked].double().numpy(), expected[:, 1], atol=1e-6, rtol=0)
    variance = torch.stack([theirs._get_variance(t) for t in range(steps)])
    _close(ours.posterior_variance()[1:], variance[1:], 1e-6)  # at t = 0 diffusers clamps 0 to 1e-20
    assert float(ours.posterior_variance()[0]) == 0.0


def test_add_noise_equals_the_schedulers():
    ours, theirs = NoiseSchedule.build("linear", 1000), DDPMScheduler(num_train_timesteps=1000)
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(16, 1, 8, 8, generator=generator) * 2 - 1, torch.randn(16, 1, 8, 8, generator=generator)
    t = torch.randint(0, 1000, (16,), generator=generator)
    _close(ours.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t), 1e-6)


# -- the forward process: closed form against the chain --------------------------------------------
def test_the_closed_form_of_q_xt_given_x0_matches_iterated_noising():
    schedule = NoiseSchedule.build("linear", 300, 1e-4, 0.05, dtype=torch.float64)
    x0 = torch.linspace(-1, 1, 8, dtype=torch.float64)
    abar = schedule.alphas_cumprod
    # the mean: the chain without noise scales x0 by prod sqrt(1 - beta) = sqrt(abar_t)
    x = x0.clone()
    for t in range(schedule.steps):
        x = schedule.noise_step(x, torch.zeros_like(x), t)
        if t in (0, 49, 299):
            _close(x, abar[t].sqrt() * x0, 1e-12)
    # the distribution: 20,000 chains against N(sqrt(abar_t) x0, (1 - abar_t) I) at t = 49 and t = 299
    generator = torch.Generator().manual_seed(0)
    x = x0.expand(20_000, -1).clone()
    for t in range(schedule.steps):
        x = schedule.noise_step(x, torch.randn(x.shape, generator=generator, dtype=torch.float64), t)
        if t in (49, 299):
            mean, std = abar[t].sqrt() * x0, (1 - abar[t]).sqrt()
            closed = schedule.add_noise(x0.expand(20_000, -1), torch.randn(x.shape, generator=generator,
                                        dtype=torch.float64), torch.full((20_000,), t))  # fmt: skip
            for draws in (x, closed):  # both within 5 standard errors of the closed form's moments
                assert (draws.mean(0) - mean).abs().max() < 5 * std / 20_000**0.5
                assert (draws.std(0) - std).abs().max() < 5 * std / (2 * 20_000) ** 0.5


# -- sampling steps against the schedulers ----------------------------------------------------------
@pytest.mark.parametrize("name", ["linear", "squaredcos_cap_v2"])
def test_one_ddpm_step_equals_ddpm_scheduler_step_given_the_same_noise(name):
    steps = 200
    ours, theirs = NoiseSchedule.build(name, steps), DDPMScheduler(num_train_timesteps=steps, beta_schedule=name)
    theirs.set_timesteps(steps)
    generator = torch.Generator().manual_seed(1)
    for t in (0, 1, 2, 50, 120, steps - 1):
        x_t, eps = torch.randn(8, 1, 8, 8, generator=generator), torch.randn(8, 1, 8, 8, generator=generator)
        expected = theirs.step(eps, t, x_t, generator=torch.Generator().manual_seed(t)).prev_sample
        noise = torch.randn(eps.shape, generator=torch.Generator().manual_seed(t))  # what step drew
        _close(ours.ddpm_step(eps, t, x_t, noise if t > 0 else None), expected, 1e-5)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
def test_ddim_timesteps_are_the_ddim_schedulers(spacing):
    ours = NoiseSchedule.build("squaredcos_cap_v2", 200)
    theirs = DDIMScheduler(num_train_timesteps=200, beta_schedule="squaredcos_cap_v2", timestep_spacing=spacing)
    for n in (1, 7, 10, 48, 64, 200):  # 48: a tie round() must break as numpy's arange does
        theirs.set_timesteps(n)
        assert ours.ddim_timesteps(n, spacing) == theirs.timesteps.tolist()[:n]  # trailing may append a -1 of its own


@pytest.mark.parametrize(("spacing", "eta", "clipped_eps"), DDIM_CASES)
def test_ddim_steps_equal_ddim_scheduler_step(spacing, eta, clipped_eps):
    """Every step of a 20-step path, x0_hat clipped (a third of N(0, 1) inputs lie outside [-1, 1]), to 1e-6:
    float64 samples through both schedulers' float32 coefficients, which differ by an ulp (1e-7 relative)."""
    ours = NoiseSchedule.build("linear", 1000)
    theirs = DDIMScheduler(num_train_timesteps=1000, timestep_spacing=spacing)
    theirs.set_timesteps(20)
    timesteps = ours.ddim_timesteps(20, spacing)
    generator = torch.Generator().manual_seed(2)
    for t, prev_t in zip(timesteps, [*timesteps[1:], -1], strict=True):
        x_t, eps, noise = (torch.randn(8, 1, 8, 8, generator=generator, dtype=torch.float64) for _ in range(3))
        expected = theirs.step(eps, t, x_t, eta=eta, use_clipped_model_output=clipped_eps,
                               variance_noise=noise if eta else None).prev_sample  # fmt: skip
        _close(ours.ddim_step(eps, t, prev_t, x_t, eta, noise, clipped_eps=clipped_eps), expected, 1e-6)


def test_a_ddim_step_at_eta_1_to_the_next_timestep_is_the_ddpm_step_when_its_eps_follows_the_clipped_x0():
    """An identity of the algebra, so in float64 (in float32 the posterior's 1 / (1 - abar_t) near t = 0
    amplifies the rounding of two different formulas to 1e-4)."""
    schedule = NoiseSchedule.build("squaredcos_cap_v2", 200, dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    for t in (1, 5, 100, 199):
        x_t, eps, noise = (torch.randn(8, 1, 8, 8, generator=generator, dtype=torch.float64) * 2 for _ in range(3))
        ddpm = schedule.ddpm_step(eps, t, x_t, noise)
        _close(schedule.ddim_step(eps, t, t - 1, x_t, 1.0, noise, clipped_eps=True), ddpm, 1e-10)
        assert (schedule.ddim_step(eps, t, t - 1, x_t, 1.0, noise) - ddpm).abs().max() > 0.01  # the unclipped eps


def test_bad_schedules_and_steps_are_refused():
    with pytest.raises(ValueError, match="beta_schedule must be one of"):
        make_betas("quadratic", 10)
    with pytest.raises(ValueError, match="integer >= 2"):
        make_betas("linear", 1)
    with pytest.raises(ValueError, match=r"betas must lie in \(0, 1\)"):
        NoiseSchedule.build("linear", 10, 0.5, 1.5)
    with pytest.raises(ValueError, match=r"sampling steps must be an integer in \[1, 10\]"):
        NoiseSchedule.build("linear", 10).ddim_timesteps(11)
    with pytest.raises(ValueError, match="timestep_spacing must be one of"):
        NoiseSchedule.build("linear", 10).ddim_timesteps(5, "uniform")
    with pytest.raises(ValueError, match="goes down in time"):
        NoiseSchedule.build("linear", 10).ddim_step(torch.zeros(1), 3, 3, torch.zeros(1))


# -- the denoiser -----------------------------------------------------------------------------------
def test_timestep_embedding_is_the_sinusoid():
    emb = timestep_embedding(torch.tensor([0, 7]), 8)
    assert emb.shape == (2, 8)
    _close(emb[0], torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0]), 1e-7)
    _close(emb[1, 1], torch.cos(torch.tensor(7 * 10_000 ** (-1 / 4))), 1e-6)


@pytest.mark.parametrize("arch", ["mlp", "unet"])
def test_the_denoiser_predicts_noise_of_the_image_shape_and_learns(arch):
    torch.manual_seed(0)
    net = Denoiser(DenoiserConfig(arch=arch, width=32, depth=1, channels=16, time_dim=16))
    x, noise = torch.randn(32, 1, 8, 8), torch.randn(32, 1, 8, 8)
    t, labels = torch.randint(0, 40, (32,)), torch.randint(0, 11, (32,))
    eps, loss = net(x, t, labels, noise)
    assert eps.shape == x.shape and net(x, t, labels)[1] is None
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = loss.item()
    for _ in range(30):
        optimizer.zero_grad()
        loss = net(x, t, labels, noise)[1]
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * first


def test_bad_denoiser_configs_are_refused():
    with pytest.raises(ValueError, match="arch must be"):
        DenoiserConfig(arch="transformer")
    with pytest.raises(ValueError, match="width must be a positive integer"):
        DenoiserConfig(width=0)
    with pytest.raises(ValueError, match="group norm"):
        DenoiserConfig(arch="unet", channels=12)


# -- the estimator ----------------------------------------------------------------------------------
def test_the_model_draws_the_digit_asked_for_the_same_way_each_time(fitted):
    asked = np.array([[3.0], [7.0], [7.0]])
    first, second = fitted.predict(asked), fitted.predict(asked)
    assert first.shape == (3, 8, 8) and np.array_equal(first, second) and 0 <= first.min() <= first.max() <= 1
    assert fitted.loss_history_[-1] < fitted.loss_history_[0]
    ddim = fitted.sample(asked, sampler="ddim")
    assert ddim.shape == (3, 8, 8) and not np.array_equal(ddim, first)
    # DDIM in all T steps at eta 1 takes DDPM's steps with DDPM's noise: the same images
    np.testing.assert_allclose(fitted.sample(asked, sampler="ddim", steps=40, eta=1.0), first, atol=1e-5)
    timesteps, frames = fitted.trajectory(asked, frames=5)
    assert timesteps[0] == 39 and timesteps[-1] == -1 and frames.shape == (5, 3, 8, 8)
    assert np.array_equal(frames[-1], first)


def test_ours_and_the_reference_draw_the_same_images_from_the_same_weights(fitted):
    reference = pickle.loads(pickle.dumps(fitted))
    reference.__class__ = DiffusersDDPM
    asked = np.arange(10)[:, None].astype(float)
    for sampler in ("ddpm", "ddim"):
        np.testing.assert_allclose(reference.sample(asked, sampler), fitted.sample(asked, sampler), atol=1e-4)
    np.testing.assert_allclose(reference.sample(asked, "ddim", eta=1.0), fitted.sample(asked, "ddim", eta=1.0),
                               atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(reference.sample(asked, guidance=2.0), fitted.sample(asked, guidance=2.0), atol=1e-4)


def test_the_reference_trains_like_ours(digits):
    images, labels = digits
    ours = DDPM(**{**SMOKE, "max_epochs": 2}).fit(labels[:200, None], images[:200])
    reference = DiffusersDDPM(**{**SMOKE, "max_epochs": 2}).fit(labels[:200, None], images[:200])
    np.testing.assert_allclose(reference.loss_history_, ours.loss_history_, rtol=1e-4)


def test_a_pickled_model_draws_the_same_images(fitted):
    asked = np.array([[1.0], [4.0]])
    assert np.array_equal(pickle.loads(pickle.dumps(fitted)).predict(asked), fitted.predict(asked))


def test_bad_requests_and_data_are_refused(fitted, digits):
    images, labels = digits
    with pytest.raises(ValueError, match=r"whole number 0\.\.9"):
        fitted.predict(np.array([[12.0]]))
    with pytest.raises(ValueError, match=r"whole number 0\.\.9"):
        fitted.predict(np.array([[2.5]]))
    with pytest.raises(ValueError, match=r"ddim_steps must be an integer in \[1, 40\]"):
        fitted.sample(np.array([[1.0]]), sampler="ddim", steps=41)
    with pytest.raises(ValueError, match="sampler must be one of"):
        fitted.sample(np.array([[1.0]]), sampler="euler")
    with pytest.raises(ValueError, match="ink in"):
        DDPM(**SMOKE).fit(labels[:20, None], images[:20] * 2)
    with pytest.raises(ValueError, match="square images"):
        DDPM(**SMOKE).fit(labels[:20, None], images[:20].reshape(20, 64))
    with pytest.raises(ValueError, match="ddim_steps must be"):
        DDPM(**{**SMOKE, "ddim_steps": 100}).fit(labels[:20, None], images[:20])
    with pytest.raises(ValueError, match="timestep_spacing must be one of"):
        DDPM(**{**SMOKE, "timestep_spacing": "uniform"}).fit(labels[:20, None], images[:20])
    with pytest.raises(NotFittedError):
        DDPM().predict(np.array([[1.0]]))


def test_the_metrics_count_and_time_the_samples(fitted):
    asked = np.arange(10)[:, None].astype(float)
    assert fid_samples(None, np.zeros((10, 8, 8)), asked, fitted) == 10.0
    assert ddim_seconds_per_1000(None, None, asked, fitted) > 0


def test_the_service_kind_takes_the_sampler_and_its_steps_per_request_within_the_models_bounds(fitted):
    from dataclasses import asdict

    from pydantic import ValidationError

    from s2p import catalog
    from serving.kinds import RequestRefused, kind_for

    d = catalog.get("ddpm")
    kind = kind_for({"kind": d.answer_kind, "features": [asdict(d.features[0])], "target": asdict(d.target)})
    request = kind.Request.model_validate({"rows": [{"digit": 3}, {"digit": 7}], "sampler": "ddim", "steps": 5})
    kind.check(fitted, request)
    answer = kind.answer(fitted, request)
    drawn = fitted.sample(np.array([[3], [7]]), sampler="ddim", steps=5)
    np.testing.assert_allclose(np.asarray(answer.values), drawn)  # the same seeded draw as the model's own
    default = kind.Request.model_validate({"rows": [{"digit": 3}]})
    np.testing.assert_allclose(kind.answer(fitted, default).values[0], fitted.predict(np.array([[3]]))[0])
    too_many = kind.Request.model_validate({"rows": [{"digit": 3}], "sampler": "ddim", "steps": 999})
    with pytest.raises(RequestRefused, match="steps") as refused:
        kind.check(fitted, too_many)  # more than the model's training steps: a 400 before any work
    assert refused.value.field == "steps"
    for bad in ({"steps": 0}, {"steps": 5000}, {"sampler": "euler"}, {"steps": "5"}):
        with pytest.raises(ValidationError):
            kind.Request.model_validate({"rows": [{"digit": 3}], **bad})

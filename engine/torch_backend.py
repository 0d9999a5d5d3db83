"""Kokoro on PyTorch (the official ``kokoro`` package's ``KModel``), one utterance or a batch.

``KModel.forward`` speaks one utterance. :func:`forward_batch` runs the same modules on a
padded batch and gives each item the audio it would get alone:

- text side: ALBERT with an attention mask; the LSTMs on packed sequences (KModel packs some,
  here all of them); durations of padding tokens are zero;
- alignment: each item's own predicted durations, its frames padded to the longest item;
- prosody and decoder: every AdaIN's instance-norm statistics over the item's valid frames only,
  and the padding zeroed again before every convolution and upsampling, so a kernel that
  reaches past an item's end sees the zeros it would see alone;
- generator: the harmonic source, its STFT and the inverse STFT run per item on its exact
  length (cheap next to the convolutions), and each item's audio is cut to its own frames.

Randomness: the harmonic source draws a random phase per harmonic and Gaussian noise. Each item
draws from its own ``torch.Generator`` on the model's device, seeded with ``seed``, so a piece
sounds the same alone, in any batch and in every run on that kind of device (CPU and CUDA
generators draw different numbers). Batched and unbatched samples agree to float rounding
(tests/test_torch_backend.py states the tolerance).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import BackendError
from engine.torch_weights import build_kmodel, require_runtime

__all__ = ["BatchLimits", "CPU_LIMITS", "CUDA_LIMITS", "DEFAULT_SEED", "TorchBackend",
           "forward_batch", "plan_batches"]

log = logging.getLogger(__name__)

Item = tuple[np.ndarray, np.ndarray, float]  # padded ids [0, *ids, 0], (1, 256) style, speed
DEFAULT_SEED = 0


@dataclass(frozen=True)
class BatchLimits:
    """How many pieces one batch may hold: items, and padded tokens (items × longest)."""

    max_items: int = 16
    max_tokens: int = 4096

    def __post_init__(self) -> None:
        if self.max_items < 1 or self.max_tokens < 1:
            raise ValueError("batch limits must be at least 1")


# Batching does not pay on CPU (DESIGN.md: the decoder's convolutions already use every core),
# so the CPU default is one piece per call; on a GPU, batches of similar length fill the device.
CPU_LIMITS = BatchLimits(max_items=1, max_tokens=512)
CUDA_LIMITS = BatchLimits(max_items=16, max_tokens=4096)


def plan_batches(lengths: Sequence[int], limits: BatchLimits) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches of similar length.

    Sorted by length, then cut greedily: a batch closes when one more item would exceed
    ``max_items`` or make ``items × longest`` exceed ``max_tokens`` (an item longer than
    ``max_tokens`` on its own still gets a batch of one)."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = max([lengths[i] for i in current] + [lengths[index]])
        if current and (len(current) + 1 > limits.max_items
                        or (len(current) + 1) * longest > limits.max_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class TorchBackend:
    """KModel on CUDA when present, else the CPU; ``infer`` for one piece, ``infer_batch`` for
    several (padded, masked, each cut to its own length)."""

    name = "torch"

    def __init__(self, weights: Path | dict, *, device: str | None = None,
                 threads: int | None = None, seed: int = DEFAULT_SEED,
                 limits: BatchLimits | None = None) -> None:
        require_runtime()
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise BackendError("--device cuda: no CUDA device is available to PyTorch")
        self.model = build_kmodel(weights)
        _fold_weight_norm(self.model)
        self.model.to(self.device)
        self.seed = seed
        self.limits = limits or (CUDA_LIMITS if self.device.type == "cuda" else CPU_LIMITS)

    timed = True  # KModel's forward pass gives the token durations

    def infer(self, token_ids: np.ndarray, style: np.ndarray, speed: float) -> np.ndarray:
        """Audio (24 kHz mono float32) for ``[0, *ids, 0]`` with a (1, 256) style row."""
        return self.infer_batch([(token_ids, style, speed)])[0]

    def infer_timed(self, token_ids: np.ndarray, style: np.ndarray,
                    speed: float) -> tuple[np.ndarray, np.ndarray]:
        """The audio and the frames each token of ``[0, *ids, 0]`` lasts."""
        return self.infer_batch_timed([(token_ids, style, speed)])[0]

    def infer_batch(self, items: Sequence[Item]) -> list[np.ndarray]:
        """Audio for each item, in order, from one padded forward pass."""
        return [audio for audio, _ in self.infer_batch_timed(items)]

    def infer_batch_timed(self, items: Sequence[Item]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(audio, token durations in frames) for each item, from one padded forward pass."""
        if not items:
            return []
        try:
            outputs = forward_batch(self.model, items, [self.seed] * len(items))
        except RuntimeError as exc:  # CUDA out of memory, shape errors from bad inputs
            raise BackendError(f"PyTorch failed on a batch of {len(items)}: {exc}") from exc
        return [(audio, np.asarray(d, dtype=np.int64)) for audio, d in outputs]

    def infer_many(self, items: Sequence[Item]) -> list[np.ndarray]:
        """Audio for each item, in order, in batches of similar length within ``limits``."""
        return [audio for audio, _ in self.infer_many_timed(items)]

    def infer_many_timed(self, items: Sequence[Item]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(audio, token durations) for each item, in order, batched as ``infer_many``."""
        results: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(items)
        for batch in plan_batches([len(item[0]) for item in items], self.limits):
            for index, out in zip(batch, self._infer_fitting([items[i] for i in batch])):
                results[index] = out
        return results  # type: ignore[return-value]

    def _infer_fitting(self, items: Sequence[Item]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``infer_batch``, halving a batch that runs out of GPU memory (same samples: each
        item's output does not depend on its batch)."""
        import torch

        try:
            return self.infer_batch_timed(items)
        except BackendError as exc:
            if len(items) == 1 or not isinstance(exc.__cause__, torch.cuda.OutOfMemoryError):
                raise
        torch.cuda.empty_cache()
        half = len(items) // 2
        log.info("GPU memory: splitting a batch of %d", len(items))
        return self._infer_fitting(items[:half]) + self._infer_fitting(items[half:])


def _fold_weight_norm(model) -> None:
    """Replace weight norm's (g, v) by the weight it computes, once, instead of every call."""
    import torch

    for module in model.modules():
        if hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)


# --- the batched forward pass ----------------------------------------------------------------

def forward_batch(model, items: Sequence[Item], seeds: Sequence[int | None]):
    """``[(audio, durations)]`` per item as float32 / int64 numpy arrays.

    ``seeds[i] = None`` draws item i's noise from torch's global generator in KModel's order
    (with ``torch.manual_seed`` set first, a single item then reproduces ``KModel`` exactly)."""
    import torch

    with torch.inference_mode():
        return _forward(model, items, seeds)


def _forward(model, items: Sequence[Item], seeds: Sequence[int | None]):
    import torch

    device = model.device
    lengths = torch.tensor([len(ids) for ids, _, _ in items], dtype=torch.long)
    input_ids = torch.zeros((len(items), int(lengths.max())), dtype=torch.long)
    for row, (ids, _, _) in enumerate(items):
        input_ids[row, : len(ids)] = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    input_ids = input_ids.to(device)
    styles = torch.as_tensor(np.stack([np.asarray(s, np.float32).reshape(-1) for _, s, _ in items]),
                             device=device)
    speeds = torch.tensor([float(sp) for _, _, sp in items], device=device)
    text_mask = (torch.arange(input_ids.shape[1]) >= lengths[:, None]).to(device)  # True: pad

    durations, d = _durations(model, input_ids, lengths, text_mask, styles[:, 128:], speeds)
    frames = durations.sum(dim=1).cpu()
    alignment = _alignment(durations, lengths, frames).to(device)
    en = d.transpose(-1, -2) @ alignment
    f0, noise = _prosody(model.predictor, en, styles[:, 128:], frames)
    t_en = model.text_encoder(input_ids, lengths, text_mask)
    asr = t_en @ alignment
    audio = _decode(model.decoder, asr, f0, noise, styles[:, :128], frames, seeds)
    return [(a.float().cpu().numpy().reshape(-1), durations[i, : lengths[i]].cpu().numpy())
            for i, a in enumerate(audio)]


def _durations(model, input_ids, lengths, text_mask, s, speeds):
    """Frames per token (0 for padding) and the duration encoder's features."""
    import torch

    bert = model.bert(input_ids, attention_mask=(~text_mask).int())
    d_en = model.bert_encoder(bert).transpose(-1, -2)
    d = model.predictor.text_encoder(d_en, s, lengths, text_mask)
    x = _lstm(model.predictor.lstm, d, lengths)
    duration = torch.sigmoid(model.predictor.duration_proj(x)).sum(dim=-1) / speeds[:, None]
    durations = torch.round(duration).clamp(min=1).long().masked_fill(text_mask, 0)
    return durations, d


def _alignment(durations, lengths, frames):
    """(batch, tokens, frames) one-hot: frame f of item b belongs to the token that covers it."""
    import torch

    alignment = torch.zeros((len(lengths), durations.shape[1], int(frames.max())))
    cpu = durations.cpu()
    for b, n in enumerate(lengths.tolist()):
        token = torch.repeat_interleave(torch.arange(n), cpu[b, :n])
        alignment[b, token, torch.arange(token.numel())] = 1
    return alignment


def _lstm(lstm, x, lengths):
    """A bidirectional LSTM over (batch, time, features) that stops at each item's length."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    if bool((lengths == x.shape[1]).all()):
        return lstm(x)[0]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0]


def _valid(lengths, size: int, like):
    """(batch, 1, size) mask: 1 on each item's first ``lengths[b]`` steps, else 0."""
    import torch

    steps = torch.arange(size, device=like.device)
    return (steps[None, :] < lengths.to(like.device)[:, None]).to(like.dtype)[:, None, :]


def _prosody(predictor, en, s, frames):
    """F0 and noise curves (batch, 2·frames), zero past each item's end (KModel's F0Ntrain)."""
    x = _lstm(predictor.shared, en.transpose(-1, -2), frames).transpose(-1, -2)
    curves = []
    for blocks, proj in ((predictor.F0, predictor.F0_proj), (predictor.N, predictor.N_proj)):
        h, lengths = x, frames
        for block in blocks:
            h, lengths = _adain_resblk(block, h, s, lengths)
        curves.append((proj(h) * _valid(lengths, h.shape[-1], h)).squeeze(1))
    return curves[0], curves[1]


def _adain(norm, x, s, mask):
    """AdaIN1d with instance-norm statistics over the valid steps only."""
    import torch

    gamma, beta = torch.chunk(norm.fc(s)[:, :, None], chunks=2, dim=1)
    count = mask.sum(dim=-1, keepdim=True)
    mean = (x * mask).sum(dim=-1, keepdim=True) / count
    centered = x - mean
    var = ((centered * mask) ** 2).sum(dim=-1, keepdim=True) / count
    inorm = norm.norm
    h = centered * torch.rsqrt(var + inorm.eps)
    if inorm.weight is not None:
        h = h * inorm.weight[:, None] + inorm.bias[:, None]
    return (1 + gamma) * h + beta


def _adain_resblk(block, x, s, lengths):
    """AdainResBlk1d on a padded batch; returns the output and its valid lengths."""
    import torch

    upsample = block.upsample_type != "none"
    out_lengths = lengths * 2 if upsample else lengths
    m_in = _valid(lengths, x.shape[-1], x)
    h = block.actv(_adain(block.norm1, x, s, m_in)) * m_in
    h = block.pool(h)
    m_out = _valid(out_lengths, h.shape[-1], h)
    h = block.conv1(h * m_out)
    h = block.actv(_adain(block.norm2, h, s, m_out)) * m_out
    h = block.conv2(h)
    out = (h + block._shortcut(x)) * torch.rsqrt(torch.tensor(2.0, device=x.device))
    return out * m_out, out_lengths


def _adain_resblock1(block, x, s, mask):
    """The generator's AdaINResBlock1 (Snake activations) on a padded batch."""
    import torch

    for c1, c2, n1, n2, a1, a2 in zip(block.convs1, block.convs2, block.adain1, block.adain2,
                                      block.alpha1, block.alpha2):
        xt = _adain(n1, x, s, mask)
        xt = xt + (1 / a1) * torch.sin(a1 * xt) ** 2
        xt = c1(xt * mask)
        xt = _adain(n2, xt, s, mask)
        xt = xt + (1 / a2) * torch.sin(a2 * xt) ** 2
        xt = c2(xt * mask)
        x = (xt + x) * mask
    return x


def _decode(decoder, asr, f0_curve, n_curve, s, frames, seeds):
    """KModel's Decoder on a padded batch: a list of each item's audio."""
    import torch

    mask = _valid(frames, asr.shape[-1], asr)
    f0 = decoder.F0_conv(f0_curve.unsqueeze(1)) * mask
    n = decoder.N_conv(n_curve.unsqueeze(1)) * mask
    x, lengths = _adain_resblk(decoder.encode, torch.cat([asr, f0, n], dim=1), s, frames)
    asr_res = decoder.asr_res(asr) * mask
    residual = True
    for block in decoder.decode:
        if residual:
            x = torch.cat([x, asr_res, f0, n], dim=1)
        x, lengths = _adain_resblk(block, x, s, lengths)
        if block.upsample_type != "none":
            residual = False
    return _generate(decoder.generator, x, s, f0_curve, lengths, seeds)


def _generate(gen, x, s, f0_curve, lengths, seeds):
    """The iSTFTNet generator: harmonic source per item, convolutions batched, iSTFT per item."""
    import torch
    import torch.nn.functional as F

    har = _harmonics(gen, f0_curve, lengths, seeds)
    kernels = gen.num_kernels
    stage_lengths = lengths
    for i in range(gen.num_upsamples):
        x = F.leaky_relu(x, negative_slope=0.1)
        x_source = gen.noise_convs[i](har)
        x = gen.ups[i](x)
        stage_lengths = stage_lengths * gen.ups[i].stride[0]
        if i == gen.num_upsamples - 1:
            x = gen.reflection_pad(x)
            stage_lengths = stage_lengths + 1
        mask = _valid(stage_lengths, x.shape[-1], x)
        x_source = _adain_resblock1(gen.noise_res[i], x_source * mask, s, mask)
        x = x * mask + x_source
        xs = sum(_adain_resblock1(gen.resblocks[i * kernels + j], x, s, mask)
                 for j in range(kernels))
        x = xs / kernels
    x = gen.conv_post(F.leaky_relu(x))
    bins = gen.post_n_fft // 2 + 1
    audio = []
    for b, n in enumerate(stage_lengths.tolist()):
        item = x[b : b + 1, :, :n]
        audio.append(gen.stft.inverse(torch.exp(item[:, :bins]), torch.sin(item[:, bins:]))
                     .reshape(-1))
    return audio


def _harmonics(gen, f0_curve, lengths, seeds):
    """STFT (magnitude, phase) of the harmonic source per item, zero-padded into a batch."""
    import torch

    specs = []
    for b, n in enumerate(lengths.tolist()):
        f0 = gen.f0_upsamp(f0_curve[b : b + 1, None, :n]).transpose(1, 2)
        sines = _sine_source(gen.m_source.l_sin_gen, f0, seeds[b])
        source = gen.m_source.l_tanh(gen.m_source.l_linear(sines)).transpose(1, 2).squeeze(1)
        spec, phase = gen.stft.transform(source)
        specs.append(torch.cat([spec, phase], dim=1)[0])
    size = max(spec.shape[-1] for spec in specs)
    har = f0_curve.new_zeros((len(specs), specs[0].shape[0], size))
    for b, spec in enumerate(specs):
        har[b, :, : spec.shape[-1]] = spec
    return har


def _sine_source(sine_gen, f0, seed: int | None):
    """KModel's SineGen (sines of F0 and its harmonics plus noise) with its random phase and
    noise drawn from a generator seeded per item (``seed=None``: torch's global generator,
    in the order KModel draws)."""
    import torch
    import torch.nn.functional as F

    device = f0.device
    harmonics = torch.arange(1, sine_gen.harmonic_num + 2, device=device, dtype=f0.dtype)
    fn = f0 * harmonics
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    rand_ini = torch.rand(fn.shape[0], fn.shape[2], generator=generator, device=device)
    rand_ini[:, 0] = 0
    rad = (fn / sine_gen.sampling_rate) % 1
    rad[:, 0, :] = rad[:, 0, :] + rand_ini
    scale = sine_gen.upsample_scale
    rad = F.interpolate(rad.transpose(1, 2), scale_factor=1 / scale, mode="linear").transpose(1, 2)
    phase = torch.cumsum(rad, dim=1) * 2 * math.pi
    phase = F.interpolate(phase.transpose(1, 2) * scale, scale_factor=scale,
                          mode="linear").transpose(1, 2)
    sines = torch.sin(phase) * sine_gen.sine_amp
    uv = (f0 > sine_gen.voiced_threshold).to(f0.dtype)
    noise_amp = uv * sine_gen.noise_std + (1 - uv) * sine_gen.sine_amp / 3
    # As KModel's randn_like: normal_ draws differently for a transposed layout.
    noise = torch.empty_strided(sines.shape, sines.stride(), device=device)
    noise.normal_(generator=generator)
    return sines * uv + noise_amp * noise


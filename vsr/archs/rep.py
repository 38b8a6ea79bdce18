"""Train-time multi-branch networks that re-parameterise into :class:`~vsr.archs.plain.PlainSR`.

Each :class:`RepConv` is a sum of linear branches (ECBSR / SPAN style) that collapses into one 3x3
convolution after training:

- a 3x3 conv;
- a 1x1 conv (padded to 3x3);
- an expand-then-3x3 branch: 1x1 conv to ``expand * c_out`` channels, then a 3x3 conv back down. The
  1x1 output is padded with its own bias (not zeros), so the branch equals one 3x3 conv everywhere,
  borders included;
- the identity, when ``c_in == c_out``.

:class:`RepSR` is :class:`PlainSR` with every conv replaced by a :class:`RepConv`;
:meth:`RepSR.reparameterize` returns the plain deploy network computing the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vsr.archs.plain import PlainSR, make_activation


class RepConv(nn.Module):
    """Multi-branch 3x3 convolution. ``(N,c_in,H,W)`` float -> ``(N,c_out,H,W)``, 'same' padding."""

    def __init__(self, c_in: int, c_out: int, expand: int = 2) -> None:
        super().__init__()
        self.c_in, self.c_out, self.expand = c_in, c_out, expand
        self.conv3 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv1 = nn.Conv2d(c_in, c_out, 1)
        if expand > 0:
            mid = expand * c_out
            self.expand1 = nn.Conv2d(c_in, mid, 1)
            self.expand3 = nn.Conv2d(mid, c_out, 3, 1, 0)
        self.identity = c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(x) + self.conv1(x)
        if self.expand > 0:
            mid = self.expand1(x)
            bias = self.expand1.bias.view(1, -1, 1, 1)  # type: ignore[union-attr]
            out = out + self.expand3(F.pad(mid - bias, (1, 1, 1, 1)) + bias)
        if self.identity:
            out = out + x
        return out

    @torch.no_grad()
    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 3x3 conv equal to this block: weight ``(c_out,c_in,3,3)``, bias ``(c_out,)``,
        computed in f64 and returned in the parameters' dtype and device."""
        dtype = self.conv3.weight.dtype
        weight = self.conv3.weight.double().clone()
        bias = self.conv3.bias.double().clone()  # type: ignore[union-attr]
        weight += F.pad(self.conv1.weight.double(), (1, 1, 1, 1))
        bias += self.conv1.bias.double()  # type: ignore[operator]
        if self.expand > 0:
            w1 = self.expand1.weight.double()[:, :, 0, 0]  # (mid, c_in)
            b1 = self.expand1.bias.double()  # type: ignore[union-attr]
            w3 = self.expand3.weight.double()  # (c_out, mid, 3, 3)
            weight += torch.einsum("omhw,mi->oihw", w3, w1)
            bias += self.expand3.bias.double() + torch.einsum("omhw,m->o", w3, b1)  # type: ignore[operator]
        if self.identity:
            idx = torch.arange(self.c_out, device=weight.device)
            weight[idx, idx, 1, 1] += 1.0
        return weight.to(dtype), bias.to(dtype)


class RepSR(nn.Module):
    """Training form of :class:`PlainSR`: same interface (``(N,3,H,W)`` [0,1] -> ``(N,3,sH,sW)``),
    every conv a :class:`RepConv`. Call :meth:`reparameterize` to get the deploy network."""

    def __init__(
        self, scale: int, channels: int = 32, num_conv: int = 4, act: str = "prelu", expand: int = 2
    ) -> None:
        super().__init__()
        self.scale, self.channels, self.num_conv, self.act, self.expand = scale, channels, num_conv, act, expand
        convs = [RepConv(3, channels, expand)]
        convs += [RepConv(channels, channels, expand) for _ in range(num_conv)]
        convs.append(RepConv(channels, 3 * scale * scale, expand))
        self.convs = nn.ModuleList(convs)
        self.acts = nn.ModuleList(make_activation(act, channels) for _ in range(num_conv + 1))
        self.upsampler = nn.PixelShuffle(scale)
        with torch.no_grad():  # start near nearest-neighbour upsampling: small residual at init
            tail = self.convs[-1]
            for p in tail.parameters():
                p.mul_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for conv, act in zip(self.convs[:-1], self.acts):
            h = act(conv(h))
        out = self.upsampler(self.convs[-1](h))
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")

    @property
    def receptive_radius(self) -> int:
        return self.num_conv + 2

    @torch.no_grad()
    def load_plain(self, plain: PlainSR) -> None:
        """Set the branches so this network computes exactly ``plain``: the 3x3 branch takes the
        deploy weights less the identity, the 1x1 and expand branches start at zero (the expand
        branch's 1x1 keeps its init so gradients reach it once its 3x3 moves). Used to fine-tune
        shipped deploy weights.

        ``plain`` may also be smaller (fewer channels and/or convs, same scale and activation), to
        start a larger network -- a distillation teacher -- from a trained student with the same
        function (Net2Net-style growth):

        - extra channels keep their random input weights, and every weight from an extra channel
          into an original one is zero, so they change nothing until training moves those weights;
        - extra body convs are identities on the original channels (fused weight = identity, bias
          0, PReLU slope 1), spread evenly between the original convs. This needs ``prelu``.
        """
        c_s, n_s = plain.channels, plain.num_conv
        same = (plain.scale, plain.act) == (self.scale, self.act) and plain.in_channels == 3
        fits = c_s <= self.channels and n_s <= self.num_conv
        if not same or not fits or (n_s < self.num_conv and self.act != "prelu"):
            got = (plain.scale, plain.channels, plain.num_conv, plain.act)
            want = (self.scale, self.channels, self.num_conv, self.act)
            raise ValueError(
                f"plain network (scale, channels, num_conv, act) {got} does not fit {want}: same scale and "
                f"activation, no more channels or convs (growing the depth needs prelu)"
            )
        convs = [m for m in plain.body if isinstance(m, nn.Conv2d)]
        acts = [m for m in plain.body if not isinstance(m, nn.Conv2d)]
        # teacher conv index -> plain conv index (None: an inserted identity conv)
        placed = {0: 0, self.num_conv + 1: n_s + 1}
        placed.update({round(j * self.num_conv / n_s): j for j in range(1, n_s + 1)} if n_s else {})
        for t, rep in enumerate(self.convs):
            weight, bias = rep.fused()  # this block's own init, kept for the extra output channels
            src = placed.get(t)
            if src is None:
                rows = c_s
                weight[:rows] = 0.0
                bias[:rows] = 0.0
                idx = torch.arange(c_s, device=weight.device)
                weight[idx, idx, 1, 1] = 1.0
            else:
                conv = convs[src]
                rows, cols = conv.weight.shape[:2]
                weight[:rows] = 0.0
                weight[:rows, :cols] = conv.weight.to(weight)
                bias[:rows] = conv.bias.to(bias)  # type: ignore[union-attr]
            if rep.identity:
                idx = torch.arange(rep.c_out, device=weight.device)
                weight[idx, idx, 1, 1] -= 1.0
            rep.conv3.weight.copy_(weight)
            rep.conv3.bias.copy_(bias)  # type: ignore[union-attr]
            for p in rep.conv1.parameters():
                p.zero_()
            if rep.expand > 0:
                for p in rep.expand3.parameters():
                    p.zero_()
            if t < len(self.acts):
                act = self.acts[t]
                if src is None:
                    act.weight[:c_s] = 1.0  # type: ignore[index]
                elif isinstance(act, nn.PReLU):
                    act.weight[:c_s] = acts[src].weight.to(act.weight)  # type: ignore[index]

    @torch.no_grad()
    def reparameterize(self) -> PlainSR:
        """The plain deploy network computing the same function (f32, eval mode, on this device)."""
        plain = PlainSR(self.scale, self.channels, self.num_conv, self.act)
        ref = self.convs[0].conv3.weight
        plain = plain.to(device=ref.device, dtype=ref.dtype)
        convs = [m for m in plain.body if isinstance(m, nn.Conv2d)]
        acts = [m for m in plain.body if not isinstance(m, nn.Conv2d)]
        for rep, conv in zip(self.convs, convs):
            w, b = rep.fused()
            conv.weight.copy_(w)
            conv.bias.copy_(b)  # type: ignore[union-attr]
        for src, dst in zip(self.acts, acts):
            dst.load_state_dict(src.state_dict())
        return plain.eval()


__all__ = ["RepConv", "RepSR"]

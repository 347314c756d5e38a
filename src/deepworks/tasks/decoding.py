"""Writing a target sequence with an encoder–decoder (``models.seq2seq``): greedy decoding
(kept with the models, whose export uses it) and batched beam search with the GNMT length
penalty (Wu et al. 2016), as Marian and fairseq do. Both return (B, T) token ids after <bos>,
each row ending at its <eos> and padded with 0."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pad_sequence

from deepworks.models.seq2seq import Memory, Seq2Seq, greedy

__all__ = ["beam_search", "greedy", "length_penalty"]


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's lp(Y) = ((5 + |Y|) / 6)^α; α = 0 ranks by log-probability alone."""
    return ((5 + length) / 6) ** alpha


@torch.inference_mode()
def beam_search(
    model: Seq2Seq,
    src: torch.Tensor,
    bos: int,
    eos: int,
    max_length: int,
    beam: int = 5,
    alpha: float = 0.6,
) -> torch.Tensor:
    """The ``beam`` best prefixes kept at every step, for every row at once; a row is done
    when its best open prefix, at its length's penalty, cannot beat its ``beam`` finished
    hypotheses (Hugging Face's rule). Scores are log-probabilities ÷ ``length_penalty``."""
    n, device = len(src), src.device
    memory = _repeat(model.encode(src), beam)  # a row's beams share it: never reordered
    state = model.start(memory)
    prefix = torch.full((n * beam, 1), bos, dtype=torch.long, device=device)
    scores = torch.full((n, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one open prefix to start from, not ``beam`` copies of it
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(n)]
    done = [False] * n
    for step in range(1, max_length + 1):
        logits, state = model.step(memory, state, prefix[:, -1])
        logp = logits.float().log_softmax(-1)
        logp[:, [0, bos]] = float("-inf")
        vocab = logp.shape[-1]
        total = (scores.view(-1, 1) + logp).view(n, beam * vocab)
        top, where = total.topk(min(2 * beam, beam * vocab), dim=1)
        keep_rows, keep_tokens, keep_scores = [], [], []
        for row in range(n):
            chosen: list[tuple[int, int, float]] = []
            for value, index in zip(top[row].tolist(), where[row].tolist(), strict=True):
                if len(chosen) == beam or value == float("-inf"):
                    break
                source_beam, token = divmod(index, vocab)
                if done[row]:
                    break
                if token == eos:
                    ids = [*prefix[row * beam + source_beam, 1:].tolist(), eos]
                    finished[row].append((value / length_penalty(step, alpha), ids))
                else:
                    chosen.append((source_beam, token, value))
            finished[row] = sorted(finished[row], key=lambda f: -f[0])[:beam]
            best_open = chosen[0][2] / length_penalty(step, alpha) if chosen else float("-inf")
            if len(finished[row]) == beam and best_open <= finished[row][-1][0]:
                done[row] = True
            while len(chosen) < beam:  # a finished or exhausted row keeps dead beams
                chosen.append((0, 0, float("-inf")))
            keep_rows += [row * beam + b for b, _, _ in chosen]
            keep_tokens += [t for _, t, _ in chosen]
            keep_scores.append([s for _, _, s in chosen])
        if all(done):
            break
        rows = torch.as_tensor(keep_rows, device=device)
        tokens = torch.as_tensor(keep_tokens, device=device)[:, None]
        prefix = torch.cat([prefix[rows], tokens], dim=1)
        scores = torch.as_tensor(keep_scores, device=device, dtype=torch.float)
        state = {k: v[rows] for k, v in state.items()}
    best = []
    for row in range(n):
        if not finished[row]:  # nothing ended within max_length: the best open prefix
            open_best = int(scores[row].argmax())
            finished[row] = [(0.0, prefix[row * beam + open_best, 1:].tolist())]
        best.append(finished[row][0][1])
    return pad_sequence([torch.as_tensor(r, device=device) for r in best], batch_first=True)


def _repeat(memory: Memory, times: int) -> Memory:
    return {k: v.repeat_interleave(times, dim=0) for k, v in memory.items()}

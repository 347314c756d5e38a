"""Reading CTC outputs: greedy decoding (best class per frame, repeats merged, blanks dropped)
and beam search over a word list with flashlight-text's lexicon decoder (the decoder
torchaudio wraps), each with the frames where every word starts and ends."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Decoded:
    ids: list[int]  # the written character ids
    words: list[tuple[str, int, int]]  # (word, first frame, last frame)


def read_path(path: list[int], alphabet: list[str]) -> Decoded:
    """A path of one class per frame → the ids it writes (repeats merged, blanks dropped) and
    each word's first and last frame (a space ends a word)."""
    ids, words, word, start, last, previous = [], [], "", 0, 0, 0
    for frame, i in enumerate(path):
        if i != previous and i != 0:
            ids.append(i)
            if alphabet[i] == " ":
                if word:
                    words.append((word, start, last))
                word = ""
            else:
                start = frame if not word else start
                word += alphabet[i]
        if i != 0 and alphabet[i] != " ":
            last = frame
        previous = i
    if word:
        words.append((word, start, last))
    return Decoded(ids, words)


def greedy_words(log_probs: torch.Tensor, alphabet: list[str]) -> list[Decoded]:
    """Greedy decoding of (N, T, V) frame scores, with each word's frames."""
    return [read_path(row, alphabet) for row in log_probs.argmax(-1).tolist()]


class LexiconBeam:
    """CTC beam search that writes only words of a word list (flashlight-text's
    LexiconDecoder, no language model): each word spelled in the alphabet, a space between
    words as CTC's word boundary; ``word_score`` is added per word written (below 0: fewer
    spurious short words)."""

    def __init__(
        self, alphabet: list[str], words: list[str], beam: int = 16, word_score: float = 0.0
    ) -> None:
        from deepworks.core.errors import require

        decoder = require("flashlight.lib.text.decoder", "speech", "beam search over words")
        self.alphabet, space = alphabet, alphabet.index(" ")
        spelled = {w: [alphabet.index(c) for c in w if c in alphabet] for w in sorted(set(words))}
        lm = decoder.ZeroLM()
        trie = decoder.Trie(len(alphabet), space)
        for index, chars in enumerate((c for c in spelled.values() if c), start=1):  # 0: unknown
            trie.insert([*chars, space], index, 0.0)
        trie.smear(decoder.SmearingMode.MAX)
        options = decoder.LexiconDecoderOptions(
            beam_size=beam,
            beam_size_token=len(alphabet),
            beam_threshold=50.0,
            lm_weight=0.0,
            word_score=word_score,
            unk_score=float("-inf"),
            sil_score=0.0,
            log_add=False,
            criterion_type=decoder.CriterionType.CTC,
        )
        self.lm = lm  # the decoder holds it by reference only
        self.decoder = decoder.LexiconDecoder(options, trie, lm, space, 0, 0, [], False)

    def __call__(self, log_probs: torch.Tensor) -> list[Decoded]:
        """(N, T, V) frame log-probabilities → the best word sequence of each row."""
        scores = log_probs.float().contiguous().cpu()
        n, frames, vocab = scores.shape
        out = []
        for i in range(n):
            pointer = scores.data_ptr() + i * scores.stride(0) * 4
            best = self.decoder.decode(pointer, frames, vocab)[0]
            out.append(read_path(list(best.tokens)[1:-1], self.alphabet))  # its frame path
        return out

"""The torch decoding engine: greedy and beam search over a MarianMTModel without `generate`.

`generate` spends a few milliseconds per decoding step on bookkeeping (cache objects, mask building,
logits processors, stopping criteria) and keeps computing rows that already finished. This loop runs the
model's own modules with a preallocated key/value cache, drops finished rows from the batch, and
mirrors `generate`'s decisions exactly: in float32 it emits the same tokens as
`model.generate(num_beams=N, do_sample=False)` with the model's generation config (bad words, min new
tokens, forced EOS, length penalty, early stopping); tests/test_engine.py checks it token for token.

Two options trade exactness for speed and are never on by default:
- `quantize="int8"`: dynamic int8 quantization of every linear layer (CPU only);
- a vocabulary shortlist: the output layer scores only a per-batch candidate set (frequent target
  tokens plus the batch's source tokens) instead of all 59k words, which dominates decoding cost.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Finished rows are dropped from the batch once this share of the live rows is done: gathering the
# caches costs about one decoding step, so compacting after every finished row would not pay.
COMPACT_SHARE = 0.125
NEG_INF = -math.inf
QUANTIZE_CHOICES = ("int8",)


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """One padded batch of source ids and how far each row may decode."""

    input_ids: Any  # LongTensor (rows, source length), padded with the pad id
    attention_mask: Any  # LongTensor (rows, source length), 1 for real tokens
    limits: tuple[int, ...]  # per row: most new tokens, the EOS included (EOS is forced at the limit)
    beams: int = 1
    min_new_tokens: int = 0  # EOS suppressed before this many new tokens (benchmarks force a length)


class TorchEngine:
    """Greedy/beam decoding over the modules of one MarianMTModel, optionally int8 and shortlisted."""

    def __init__(self, model: Any, *, quantize: str | None = None, shortlist: Any = None):
        import torch

        if quantize not in (None, *QUANTIZE_CHOICES):
            raise ValueError(f"unknown quantization {quantize!r}; choose one of {QUANTIZE_CHOICES}")
        self.model = model
        self.quantize = quantize
        self.shortlist = shortlist  # a Shortlist or None
        config, generation = model.config, _resolved_generation_config(model)
        self.device = model.device
        self.pad = int(config.pad_token_id)
        self.eos = int(generation.eos_token_id if generation.eos_token_id is not None else config.eos_token_id)
        self.start = int(generation.decoder_start_token_id if generation.decoder_start_token_id is not None
                         else config.decoder_start_token_id)
        self.forced_eos = generation.forced_eos_token_id is not None
        self.length_penalty = float(generation.length_penalty)
        self.early_stopping = generation.early_stopping
        self.banned = _single_token_bad_words(generation.bad_words_ids, self.eos)
        decoder = model.model.decoder
        self.embed_scale = float(decoder.embed_scale)
        self.layers = list(decoder.layers)
        self.heads = config.decoder_attention_heads
        self.head_dim = config.d_model // self.heads
        self.embed_tokens = decoder.embed_tokens
        self.positions = decoder.embed_positions.weight
        self.lm_head = model.lm_head
        self.logits_bias = model.final_logits_bias
        if quantize == "int8":
            self.layers = [_quantized(layer) for layer in self.layers]
            self.lm_head = _quantized(torch.nn.Sequential(model.lm_head))[0]

    # -- public -------------------------------------------------------------------------------------

    def generate(self, request: DecodeRequest) -> list[list[int]]:
        """New token ids per row, EOS and padding removed."""
        import torch

        with torch.inference_mode():
            encoded = self.model.model.encoder(
                input_ids=request.input_ids, attention_mask=request.attention_mask
            ).last_hidden_state
            vocab = self.shortlist.candidates(request.input_ids, self.eos) if self.shortlist is not None else None
            head = _OutputLayer(self.lm_head, self.logits_bias, vocab, self.quantize)
            if request.beams == 1:
                return self._greedy(request, encoded, head)
            return self._beam_search(request, encoded, head)

    # -- greedy -------------------------------------------------------------------------------------

    def _greedy(self, request: DecodeRequest, encoded, head: "_OutputLayer") -> list[list[int]]:
        import torch

        rows = encoded.shape[0]
        limits = torch.tensor(request.limits, device=self.device)
        max_length = 1 + max(request.limits)  # what generate's max_new_tokens=max(limits) gives
        state = _DecoderState(self, encoded, request.attention_mask, max_length - 1, beams=1)
        tokens = torch.full((rows,), self.start, dtype=torch.long, device=self.device)
        outputs = torch.full((rows, max_length - 1), self.pad, dtype=torch.long, device=self.device)
        live = torch.arange(rows, device=self.device)  # original row of each row still decoding
        ended = torch.zeros(rows, dtype=torch.bool, device=self.device)
        for step in range(max_length - 1):
            hidden = state.step(tokens, step)
            scores = head(hidden)
            self._mask(scores, step, max_length, limits[live], request.min_new_tokens, head)
            tokens = head.vocabulary_ids(scores.argmax(dim=-1))
            tokens = tokens.masked_fill(ended, self.pad)  # as generate does for finished rows
            outputs[live, step] = tokens
            ended |= tokens == self.eos
            ended_count = int(ended.sum())
            if ended_count == live.numel():
                break
            if ended_count >= max(1, COMPACT_SHARE * live.numel()):
                keep = (~ended).nonzero().squeeze(1)
                state.keep_rows(keep)
                live, tokens, ended = live[keep], tokens[keep], ended[keep]
        return [_strip(row, self.eos, self.pad) for row in outputs.tolist()]

    def _mask(self, scores, step: int, max_length: int, limits, min_new_tokens: int, head: "_OutputLayer") -> None:
        """generate's logits processors, in its order: bad words, min new tokens, forced EOS, row limits."""
        cur_len = step + 1  # decoder start token + tokens emitted so far
        eos = head.column(self.eos)
        for banned in self.banned:
            column = head.column(banned)
            if column is not None:
                scores[:, column] = NEG_INF
        if step < min_new_tokens and eos is not None:
            scores[:, eos] = NEG_INF
        at_limit = limits <= cur_len
        if self.forced_eos and cur_len == max_length - 1:
            at_limit = at_limit | True
        if bool(at_limit.any()):
            scores[at_limit] = NEG_INF
            scores[at_limit, eos] = 0.0

    # -- beam search --------------------------------------------------------------------------------

    def _beam_search(self, request: DecodeRequest, encoded, head: "_OutputLayer") -> list[list[int]]:
        """generate's vectorised beam search (transformers 5), step for step, without its overhead."""
        import torch

        beams = request.beams
        batch = encoded.shape[0]
        max_length = 1 + max(request.limits)
        device = self.device
        state = _DecoderState(self, encoded, request.attention_mask, max_length - 1, beams=beams)
        limits = torch.tensor(request.limits, device=device)
        keep_count = 2 * beams  # generate keeps max(2, 1 + number of EOS tokens) x beams candidates
        top_beam_mask = torch.cat((torch.ones(beams, dtype=torch.bool), torch.zeros(beams, dtype=torch.bool))).to(device)
        running = torch.full((batch, beams, max_length), self.pad, dtype=torch.long, device=device)
        running[:, :, 0] = self.start
        finished = running.clone()
        running_scores = torch.zeros((batch, beams), dtype=torch.float, device=device)
        running_scores[:, 1:] = -1e9
        finished_scores = torch.full((batch, beams), -1e9, dtype=torch.float, device=device)
        is_finished = torch.zeros((batch, beams), dtype=torch.bool, device=device)
        improvable = torch.ones((batch, 1), dtype=torch.bool, device=device)
        live = torch.arange(batch, device=device)  # original sentence of each sentence still searching
        results: list[list[int] | None] = [None] * batch
        cur_len = 1
        while True:
            n = live.numel()
            hidden = state.step(running[:, :, cur_len - 1].reshape(-1), cur_len - 1)
            logits = head(hidden).float()
            log_probs = torch.nn.functional.log_softmax(logits, dim=-1)
            self._mask(log_probs, cur_len - 1, max_length, limits[live].repeat_interleave(beams),
                       request.min_new_tokens, head)
            vocab_size = log_probs.shape[-1]
            # In place: (rows, vocabulary) floats are the biggest tensors of a step.
            log_probs = log_probs.view(n, beams, vocab_size).add_(running_scores[:, :, None]).view(n, -1)
            topk_log_probs, topk_indices = torch.topk(log_probs, k=keep_count)
            origin = topk_indices // vocab_size
            topk_ids = head.vocabulary_ids(topk_indices % vocab_size)
            topk_running = _gather_beams(running, origin)
            topk_running[:, :, cur_len] = topk_ids
            hits = (topk_ids == self.eos) | (cur_len + 1 >= max_length)

            topk_running_log_probs = topk_log_probs + hits.to(torch.float32) * -1.0e9
            next_indices = torch.topk(topk_running_log_probs, k=beams)[1]
            running = _gather_beams(topk_running, next_indices)
            running_scores = _gather_beams(topk_running_log_probs, next_indices)
            parent = _gather_beams(origin, next_indices)

            just_finished = hits & top_beam_mask[None, :]
            candidate_scores = topk_log_probs / ((cur_len + 1 - 1) ** self.length_penalty)
            full = torch.all(is_finished, dim=-1, keepdim=True) & (self.early_stopping is True)
            candidate_scores += full.to(torch.float32) * -1.0e9
            candidate_scores += (~improvable).to(torch.float32) * -1.0e9
            candidate_scores += (~just_finished) * -1.0e9
            merged_indices = torch.topk(torch.cat((finished_scores, candidate_scores), dim=1), k=beams)[1]
            finished = _gather_beams(torch.cat((finished, topk_running), dim=1), merged_indices)
            finished_scores = _gather_beams(torch.cat((finished_scores, candidate_scores), dim=1), merged_indices)
            is_finished = _gather_beams(torch.cat((is_finished, just_finished), dim=1), merged_indices)

            state.reorder_beams((parent + torch.arange(n, device=device)[:, None] * beams).reshape(-1))
            cur_len += 1
            improvable = self._improvable(improvable, running_scores, finished_scores, is_finished, cur_len, max_length)
            # A sentence that cannot improve (or is full, with early_stopping=True) is frozen in generate.
            done = ~improvable[:, 0]
            if self.early_stopping is True:
                done |= is_finished.all(dim=1)
            if bool(hits.all()):
                done[:] = True
            if bool(done.any()):
                for j in done.nonzero().squeeze(1).tolist():
                    results[int(live[j])] = _strip(finished[j, 0, 1:].tolist(), self.eos, self.pad)
                if bool(done.all()):
                    break
                keep = (~done).nonzero().squeeze(1)
                live, running, finished = live[keep], running[keep], finished[keep]
                running_scores, finished_scores = running_scores[keep], finished_scores[keep]
                is_finished, improvable = is_finished[keep], improvable[keep]
                state.keep_rows((keep[:, None] * beams + torch.arange(beams, device=device)).reshape(-1))
        return [row if row is not None else [] for row in results]

    def _improvable(self, improvable, running_scores, finished_scores, is_finished, cur_len: int, max_length: int):
        """generate's early-stop heuristic: can a running beam still beat the worst finished one?"""
        import torch

        if self.early_stopping == "never" and self.length_penalty > 0.0:
            best_length = max_length - 1
        else:
            best_length = cur_len - 1
        best_running = running_scores[:, :1] / (best_length ** self.length_penalty)
        worst_finished = torch.where(is_finished, torch.min(finished_scores, dim=1, keepdim=True)[0], -1.0e9)
        return improvable & torch.any(best_running > worst_finished, dim=-1, keepdim=True)


class _DecoderState:
    """Key/value caches of one batch: cross-attention computed once, self-attention preallocated."""

    def __init__(self, engine: TorchEngine, encoded, attention_mask, steps: int, beams: int):
        import torch

        self.engine = engine
        rows = encoded.shape[0]
        heads, head_dim = engine.heads, engine.head_dim
        # generate's bidirectional mask for SDPA: boolean, True where the source token is real.
        self.cross_mask = attention_mask.bool()[:, None, None, :]
        self.cross_keys, self.cross_values = [], []
        for layer in engine.layers:
            attention = layer.encoder_attn
            shape = (rows, -1, heads, head_dim)
            self.cross_keys.append(attention.k_proj(encoded).view(shape).transpose(1, 2))
            self.cross_values.append(attention.v_proj(encoded).view(shape).transpose(1, 2))
        if beams > 1:
            self.cross_mask = self.cross_mask.repeat_interleave(beams, dim=0)
            self.cross_keys = [k.repeat_interleave(beams, dim=0) for k in self.cross_keys]
            self.cross_values = [v.repeat_interleave(beams, dim=0) for v in self.cross_values]
        rows *= beams
        cache_shape = (rows, heads, steps, head_dim)
        self.self_keys = [encoded.new_zeros(cache_shape) for _ in engine.layers]
        self.self_values = [encoded.new_zeros(cache_shape) for _ in engine.layers]
        self.length = 0
        self._spare_keys = self._spare_values = None  # reorder_beams' second buffers, made on first use
        self._sdpa = torch.nn.functional.scaled_dot_product_attention

    def step(self, tokens, position: int):
        """Decoder output (rows, d_model) for one new token per row at `position`."""
        engine, sdpa = self.engine, self._sdpa
        rows = tokens.shape[0]
        hidden = engine.embed_tokens(tokens[:, None]) * engine.embed_scale + engine.positions[position]
        shape = (rows, 1, engine.heads, engine.head_dim)
        end = position + 1
        for i, layer in enumerate(engine.layers):
            attention = layer.self_attn
            query = attention.q_proj(hidden).view(shape).transpose(1, 2)
            self.self_keys[i][:, :, position] = attention.k_proj(hidden).view(shape)[:, 0]
            self.self_values[i][:, :, position] = attention.v_proj(hidden).view(shape)[:, 0]
            out = sdpa(query, self.self_keys[i][:, :, :end], self.self_values[i][:, :, :end],
                       attn_mask=None, dropout_p=0.0, scale=attention.scaling, is_causal=False)
            hidden = layer.self_attn_layer_norm(hidden + attention.out_proj(out.transpose(1, 2).reshape(rows, 1, -1)))
            attention = layer.encoder_attn
            query = attention.q_proj(hidden).view(shape).transpose(1, 2)
            out = sdpa(query, self.cross_keys[i], self.cross_values[i], attn_mask=self.cross_mask,
                       dropout_p=0.0, scale=attention.scaling, is_causal=False)
            hidden = layer.encoder_attn_layer_norm(hidden + attention.out_proj(out.transpose(1, 2).reshape(rows, 1, -1)))
            hidden = layer.final_layer_norm(hidden + layer.fc2(layer.activation_fn(layer.fc1(hidden))))
        self.length = end
        return hidden[:, 0]

    def keep_rows(self, rows) -> None:
        """Keep only these rows of the caches (finished rows leave the batch)."""
        self.cross_mask = self.cross_mask.index_select(0, rows)
        self.cross_keys = [k.index_select(0, rows) for k in self.cross_keys]
        self.cross_values = [v.index_select(0, rows) for v in self.cross_values]
        self.self_keys = [self._filled_rows(k, rows) for k in self.self_keys]
        self.self_values = [self._filled_rows(v, rows) for v in self.self_values]
        self._spare_keys = self._spare_values = None  # sized for the old rows

    def _filled_rows(self, cache, rows):
        """A new cache holding these rows, with only the filled positions copied."""
        import torch

        kept = cache.new_empty((rows.numel(), *cache.shape[1:]))
        torch.index_select(cache[:, :, :self.length], 0, rows, out=kept[:, :, :self.length])
        return kept

    def reorder_beams(self, rows) -> None:
        """Each beam's self-attention cache becomes its parent's (`rows`: parent row of each row).

        Beams of one sentence share the cross-attention cache, so only the self-attention caches move,
        only their filled positions are copied (into a spare buffer, swapped in: one copy, no allocation),
        and nothing moves when every beam kept its own parent.
        """
        import torch

        if torch.equal(rows, torch.arange(rows.numel(), device=rows.device)):
            return
        if self._spare_keys is None:
            self._spare_keys = [torch.empty_like(k) for k in self.self_keys]
            self._spare_values = [torch.empty_like(v) for v in self.self_values]
        end = self.length
        for cache, spare in zip(self.self_keys + self.self_values, self._spare_keys + self._spare_values):
            torch.index_select(cache[:, :, :end], 0, rows, out=spare[:, :, :end])
        self.self_keys, self._spare_keys = self._spare_keys, self.self_keys
        self.self_values, self._spare_values = self._spare_values, self.self_values


class _OutputLayer:
    """Logits over the whole vocabulary, or over a shortlist of columns mapped back to vocabulary ids."""

    def __init__(self, lm_head, bias, vocabulary, quantize: str | None):
        import torch

        self.vocabulary = vocabulary  # LongTensor of vocabulary ids, or None for all
        if vocabulary is None:
            self._head, self._bias = lm_head, bias[0]
            self._columns = None
            return
        weight = lm_head.weight() if callable(getattr(lm_head, "weight", None)) else lm_head.weight
        if weight.is_quantized:
            weight = weight.dequantize()
        sub = torch.nn.Linear(weight.shape[1], vocabulary.numel(), bias=False)
        sub.weight = torch.nn.Parameter(weight.index_select(0, vocabulary), requires_grad=False)
        self._head = _quantized(torch.nn.Sequential(sub))[0] if quantize == "int8" else sub
        self._bias = bias[0].index_select(0, vocabulary)
        self._columns = {int(v): i for i, v in enumerate(vocabulary.tolist())}

    def __call__(self, hidden):
        return self._head(hidden) + self._bias

    def column(self, token: int) -> int | None:
        return token if self._columns is None else self._columns.get(token)

    def vocabulary_ids(self, columns):
        return columns if self.vocabulary is None else self.vocabulary[columns]


class Shortlist:
    """Output candidates per batch: the `size` most frequent target tokens plus the batch's source tokens.

    With a shared vocabulary, copying a source token (names, numbers) is always possible.
    """

    def __init__(self, frequent_ids: Sequence[int], size: int, vocab_size: int, banned: Sequence[int] = (),
                 digest: str = ""):
        import torch

        self.size = size
        self.digest = digest  # identity of the frequency source, for the cache key
        self.vocab_size = vocab_size
        chosen = [i for i in frequent_ids if 0 <= i < vocab_size and i not in set(banned)][:size]
        self.frequent = torch.tensor(sorted(chosen), dtype=torch.long)
        self.banned = torch.tensor(sorted(banned), dtype=torch.long)

    def candidates(self, input_ids, eos: int):
        import torch

        source = input_ids.reshape(-1).cpu()
        source = source[(source >= 0) & (source < self.vocab_size)]
        if self.banned.numel():
            source = source[~torch.isin(source, self.banned)]
        ids = torch.cat((self.frequent, source, torch.tensor([eos])))
        return torch.unique(ids).to(input_ids.device)  # sorted: ties break towards the lower id, as in full argmax


def _resolved_generation_config(model):
    """The generation config that `generate` would use with no arguments: the model's, over global defaults."""
    from transformers import GenerationConfig

    resolved = GenerationConfig()
    resolved.update(**model.generation_config.to_dict(), defaults_only=True, allow_custom_entries=True)
    defaults = getattr(model.generation_config, "_get_default_generation_params", None)
    if defaults is not None:
        resolved.update(**defaults(), defaults_only=True)
    if resolved.length_penalty is None:
        resolved.length_penalty = 1.0
    if resolved.early_stopping is None:
        resolved.early_stopping = False
    return resolved


def _single_token_bad_words(bad_words_ids, eos: int) -> tuple[int, ...]:
    """The banned single tokens of a generation config (multi-token bad words are not supported)."""
    if not bad_words_ids:
        return ()
    if any(len(sequence) != 1 for sequence in bad_words_ids):
        raise ValueError("bad_words_ids with sequences longer than one token are not supported by this engine")
    return tuple(sorted({int(seq[0]) for seq in bad_words_ids} - {eos}))


def _gather_beams(tensor, indices):
    """tensor[b, indices[b, k], ...] for each batch row b (generate's _gather_beams)."""
    while len(indices.shape) < len(tensor.shape):
        indices = indices.unsqueeze(-1)
    return tensor.gather(dim=1, index=indices.expand(*indices.shape[:2], *tensor.shape[2:]))


def _strip(tokens: Sequence[int], eos: int, pad: int) -> list[int]:
    """Tokens up to the first EOS, without padding."""
    out: list[int] = []
    for token in tokens:
        if token == eos:
            break
        if token != pad:
            out.append(token)
    return out


def _quantized(module):
    """Dynamic int8 copy of a module's linear layers (torch.ao: deprecated in torch 2.x but still shipped)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)

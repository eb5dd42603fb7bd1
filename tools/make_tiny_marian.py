"""Write a tiny random-weight MarianMT folder, to try the model path of `provenance check` offline.

    python tools/make_tiny_marian.py TOKENIZER_DIR OUT_DIR

TOKENIZER_DIR holds real Marian tokenizer files (source.spm, target.spm, vocab.json, tokenizer_config.json),
for example an opus-mt download or ../shared/data/tokenizers/opus-mt-tc-big-fr-en. The weights are random:
the translations are gibberish, so the verdicts are meaningless; it only proves the pipeline runs end to end.
"""

import argparse
from pathlib import Path


def make_tiny_marian(tokenizer_dir: Path, out_dir: Path, seed: int = 0, d_model: int = 32, layers: int = 2,
                     **config_overrides) -> Path:
    """Save a random-weight MarianMTModel of width d_model, plus the tokenizer files, to out_dir."""
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    tokenizer = MarianTokenizer.from_pretrained(str(tokenizer_dir))
    config = MarianConfig(
        vocab_size=len(tokenizer), d_model=d_model, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=2 * d_model, decoder_ffn_dim=2 * d_model,
        max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, forced_eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id, **config_overrides,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tokenizer_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_tiny_marian(args.tokenizer_dir, args.out_dir, args.seed))


if __name__ == "__main__":
    main()

"""Prices in USD per million tokens, by model name; the project's config extends them.

A name matches an entry exactly, or an entry ending in ``*`` by prefix (the
longest wins). A model with no entry has an unknown cost: ``cost()`` returns
``None`` and the views say "unknown", never 0. Local models cost nothing.
The built-in figures are list prices as published by the vendors (2025);
override them in ``overnight.toml``::

    [prices."openai:gpt-4.1"]
    input = 2.0
    output = 8.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from overnight.errors import ConfigError


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input (prompt) tokens
    output: float  # USD per million output (completion) tokens


BUILTIN: dict[str, Price] = {
    "openai:gpt-4o": Price(2.50, 10.00),
    "openai:gpt-4o-mini": Price(0.15, 0.60),
    "openai:gpt-4.1": Price(2.00, 8.00),
    "openai:gpt-4.1-mini": Price(0.40, 1.60),
    "openai:gpt-4.1-nano": Price(0.10, 0.40),
    "openai:o4-mini": Price(1.10, 4.40),
    "anthropic:claude-opus-4*": Price(15.00, 75.00),
    "anthropic:claude-sonnet-4*": Price(3.00, 15.00),
    "anthropic:claude-3-7-sonnet*": Price(3.00, 15.00),
    "anthropic:claude-3-5-haiku*": Price(0.80, 4.00),
    "local:*": Price(0.0, 0.0),
}


@dataclass
class PriceTable:
    extra: dict[str, Price] = field(default_factory=dict)

    @classmethod
    def from_config(cls, prices: dict[str, dict[str, float]]) -> PriceTable:
        table = {}
        for name, entry in prices.items():
            if not isinstance(entry, dict) or set(entry) != {"input", "output"}:
                raise ConfigError(
                    f"prices.'{name}': give 'input' and 'output' in USD per million tokens"
                )
            table[name] = Price(float(entry["input"]), float(entry["output"]))
        return cls(table)

    def price(self, model: str) -> Price | None:
        for table in (self.extra, BUILTIN):
            if model in table:
                return table[model]
        best: tuple[int, Price] | None = None
        for table in (self.extra, BUILTIN):
            for key, price in table.items():
                wildcard = key.endswith("*") and model.startswith(key[:-1])
                if wildcard and (best is None or len(key) > best[0]):
                    best = (len(key), price)
        return best[1] if best else None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        price = self.price(model)
        if price is None:
            return None
        return (input_tokens * price.input + output_tokens * price.output) / 1_000_000

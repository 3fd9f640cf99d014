"""Pricing: money, pricebooks, tiers, adjustments and the waterfall (pure core)."""

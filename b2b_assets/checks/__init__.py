"""Pandera schemas for every asset, enforced as blocking asset checks."""

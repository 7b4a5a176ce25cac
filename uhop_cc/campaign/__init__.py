"""Dataset production campaigns: random UIR programs by category -> validated, timed records.

    from uhop_cc.campaign import load_config, run_campaign, campaign_status
    result = run_campaign(load_config("examples/campaign.toml"))

CLI: `uhopc campaign run CONFIG.toml [--ray ADDRESS|auto] [--workers N]`, `uhopc campaign status DIR`.
Modules: generator (programs by category), config (TOML), runner (driver, process pool, Ray),
worker (build/validate/time, batched builds), dedup (canonical UIR and kernel hashes), balance
(category balancing), state (the resumable campaign directory), progress (live statistics),
lock (one run per campaign directory), lifeline (pool workers die with their driver).
"""
from __future__ import annotations

from .config import CampaignConfig, ConfigError, config_from_dict, load_config
from .generator import ALLOWED, CATEGORIES, INTENDED, GeneratedProgram, Limits, derive_seed, generate
from .lock import CampaignBusy
from .runner import CampaignResult, campaign_status, run_campaign

__all__ = ["CampaignConfig", "ConfigError", "config_from_dict", "load_config", "ALLOWED", "CATEGORIES", "INTENDED",
           "GeneratedProgram", "Limits", "derive_seed", "generate", "CampaignBusy", "CampaignResult",
           "campaign_status", "run_campaign"]

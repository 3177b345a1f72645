"""The Price List cache in the history database: audits read prices from here while they are fresh enough."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from auditor.inventory.models import RegionPriceList
from auditor.store.models import PriceListRow

log = logging.getLogger(__name__)


class StorePriceCache:
    """Region prices cached in the ``price_lists`` table, refreshed after ``max_age``.

    A database error never stops an audit: the cache then answers nothing and stores nothing (logged),
    and the audit reads the Price List API (or falls back to the bundled book)."""

    def __init__(self, factory: sessionmaker[Session], max_age: timedelta) -> None:
        self.factory = factory
        self.max_age = max_age

    def fresh(self, regions: Iterable[str], *, now: datetime | None = None) -> dict[str, RegionPriceList]:
        """The cached price lists of ``regions`` read within ``max_age``."""
        oldest = (now or datetime.now(UTC)) - self.max_age
        wanted = sorted(set(regions))
        found: dict[str, RegionPriceList] = {}
        try:
            with self.factory() as session:
                rows = session.scalars(select(PriceListRow).where(PriceListRow.region.in_(wanted))).all()
                for row in rows:
                    if row.fetched_at < oldest:
                        continue
                    try:
                        found[row.region] = RegionPriceList.model_validate(row.document)
                    except ValidationError:
                        log.warning("cached prices of %s are unreadable; reading them again", row.region)
        except SQLAlchemyError as exc:
            log.warning("the price cache could not be read: %s", exc)
            return {}
        return found

    def store(self, lists: Iterable[RegionPriceList], *, now: datetime | None = None) -> None:
        """Keep the price lists just read (one row per region, replaced)."""
        at = now or datetime.now(UTC)
        try:
            with self.factory.begin() as session:
                for pl in lists:
                    session.merge(PriceListRow(region=pl.region, fetched_at=at, document=pl.model_dump(mode="json")))
        except SQLAlchemyError as exc:
            log.warning("the price cache could not be written: %s", exc)

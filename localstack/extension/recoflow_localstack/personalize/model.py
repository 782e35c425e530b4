"""Stand-in recommenders behind the emulated recipes.

Not Personalize's algorithms: small deterministic models whose output has the same shape, so that
what the orchestrator does with a batch inference result can be tested end to end.

- aws-popularity-count (and trending-now): items ranked by interaction count, the same list for
  every user.
- aws-user-personalization(-v2): item-item co-occurrence over users' histories; a user's candidates
  are scored by co-occurrence with the items they interacted with, already-seen items are left out,
  unknown users and short lists are filled from popularity.
- aws-similar-items / aws-sims: the co-occurrence neighbours of an item.
- aws-personalized-ranking(-v2): the given itemList ordered by the user-personalization score.
- aws-item-affinity / aws-item-attribute-affinity (USER_SEGMENTATION, batch segment jobs): the users
  for an item (or the items whose attributes match): first those who interacted with them, then
  those whose history co-occurs with them, then the most active others.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

POPULARITY = "popularity"
USER_PERSONALIZATION = "user-personalization"
SIMILAR_ITEMS = "similar-items"
RANKING = "personalized-ranking"
ITEM_AFFINITY = "item-affinity"
ITEM_ATTRIBUTE_AFFINITY = "item-attribute-affinity"
USER_SEGMENTATION = (ITEM_AFFINITY, ITEM_ATTRIBUTE_AFFINITY)

RECIPES = {
    "aws-popularity-count": POPULARITY,
    "aws-trending-now": POPULARITY,
    "aws-user-personalization": USER_PERSONALIZATION,
    "aws-user-personalization-v2": USER_PERSONALIZATION,
    "aws-hrnn": USER_PERSONALIZATION,
    "aws-similar-items": SIMILAR_ITEMS,
    "aws-sims": SIMILAR_ITEMS,
    "aws-personalized-ranking": RANKING,
    "aws-personalized-ranking-v2": RANKING,
    "aws-item-affinity": ITEM_AFFINITY,
    "aws-item-attribute-affinity": ITEM_ATTRIBUTE_AFFINITY,
}

RECIPE_ARN_PREFIX = "arn:aws:personalize:::recipe/"

# per-user history kept for co-occurrence, most recent first (bounds the quadratic pair count)
HISTORY_CAP = 50

MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO = 25
# the service's reason when aws-item-attribute-affinity finds no item column worth training on
NO_ATTRIBUTE = (
    "Did not find any attribute to train on. There may not be any attribute in the items dataset, "
    "or all attribute values either have same or all distinct values."
)


def recipe_kind(recipe_arn: str) -> str | None:
    if not recipe_arn or not recipe_arn.startswith(RECIPE_ARN_PREFIX):
        return None
    return RECIPES.get(recipe_arn[len(RECIPE_ARN_PREFIX) :])


@dataclass
class Model:
    kind: str
    popularity: list[tuple[str, int]] = field(default_factory=list)
    history: dict[str, list[str]] = field(default_factory=dict)
    cooccurrence: dict[str, Counter] = field(default_factory=dict)
    # interactions per user (USER_SEGMENTATION: fills segments after the users with affinity)
    user_activity: Counter = field(default_factory=Counter)
    # item id -> {COLUMN: value} of the Items dataset at training (aws-item-attribute-affinity)
    item_attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    # --- inference -------------------------------------------------------------------

    def _popular(self, n: int, exclude: set[str]) -> list[tuple[str, float]]:
        out = []
        for item, count in self.popularity:
            if item in exclude:
                continue
            out.append((item, float(count)))
            if len(out) >= n:
                break
        return out

    def _user_scores(self, user_id: str) -> Counter:
        scores: Counter = Counter()
        for seen in self.history.get(user_id, []):
            for other, c in self.cooccurrence.get(seen, {}).items():
                scores[other] += c
        return scores

    def recommend_for_user(self, user_id: str, n: int) -> tuple[list[str], list[float]]:
        if self.kind == POPULARITY:
            return _normalised(self._popular(n, set()))
        seen = set(self.history.get(user_id, []))
        scores = self._user_scores(user_id)
        ranked = [(i, float(s)) for i, s in scores.most_common() if i not in seen][:n]
        if len(ranked) < n:
            taken = seen | {i for i, _ in ranked}
            # popularity fill ranks below every co-occurrence hit
            fill = self._popular(n - len(ranked), taken)
            floor = min((s for _, s in ranked), default=1.0)
            total = sum(c for _, c in fill) or 1.0
            ranked += [(i, floor * 0.5 * c / total) for i, c in fill]
        return _normalised(ranked)

    def similar_items(self, item_id: str, n: int) -> tuple[list[str], list[float]]:
        neighbours = self.cooccurrence.get(item_id, Counter())
        ranked = [(i, float(c)) for i, c in neighbours.most_common(n)]
        if len(ranked) < n:
            taken = {item_id} | {i for i, _ in ranked}
            floor = min((s for _, s in ranked), default=1.0)
            fill = self._popular(n - len(ranked), taken)
            total = sum(c for _, c in fill) or 1.0
            ranked += [(i, floor * 0.5 * c / total) for i, c in fill]
        return _normalised(ranked)

    def users_for_items(self, items: set[str], n: int) -> list[str]:
        """The ``n`` users most likely to interact with ``items``: those who interacted with
        them (most interactions first), then those whose history co-occurs with them most,
        then the most active others."""
        related: Counter = Counter()
        for item in items:
            related.update(self.cooccurrence.get(item, {}))
        ranked = sorted(
            self.history,
            key=lambda user: (
                -sum(1 for seen in self.history[user] if seen in items),
                -sum(related.get(seen, 0) for seen in self.history[user]),
                -self.user_activity.get(user, 0),
                user,
            ),
        )
        return ranked[:n]

    def rank(self, user_id: str, items: list[str]) -> tuple[list[str], list[float]]:
        scores = self._user_scores(user_id)
        pop = dict(self.popularity)
        ranked = sorted(items, key=lambda i: (-scores.get(i, 0), -pop.get(i, 0), i))
        return _normalised([(i, float(scores.get(i, 0)) + 1e-3 * pop.get(i, 0)) for i in ranked])


def _normalised(ranked: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    total = sum(s for _, s in ranked)
    items = [i for i, _ in ranked]
    if total <= 0:
        return items, [round(1.0 / len(ranked), 7) for _ in ranked] if ranked else []
    return items, [round(s / total, 7) for _, s in ranked]


class InsufficientData(Exception):
    pass


def item_attributes(items: list[dict]) -> dict[str, dict[str, str]]:
    """Items dataset rows (upper-case keys) -> {item id: {COLUMN: value}}; InsufficientData with
    the service's reason when no column has both repeated and differing values."""
    attributes = {row["ITEM_ID"]: {k: v for k, v in row.items() if k != "ITEM_ID" and v != ""} for row in items}
    columns = {column for values in attributes.values() for column in values}
    for column in columns:
        values = [values[column] for values in attributes.values() if column in values]
        if 1 < len(set(values)) < len(values):
            return attributes
    raise InsufficientData(NO_ATTRIBUTE)


def train(kind: str, interactions: list[dict], event_type: str | None = None, items: list[dict] | None = None) -> Model:
    """interactions: dicts with USER_ID, ITEM_ID, TIMESTAMP (upper-case keys), already filtered
    by the solution's event type; items: the Items dataset's rows (aws-item-attribute-affinity)."""
    if len(interactions) < MIN_INTERACTIONS:
        # the service's wording, as seen in failed solution versions
        suffix = f" after filtering by event type: {event_type}" if event_type else "."
        raise InsufficientData(f"Dataset has fewer than {MIN_INTERACTIONS} interactions{suffix}")
    per_user: dict[str, list[tuple[int, str]]] = defaultdict(list)
    counts: Counter = Counter()
    for row in interactions:
        per_user[row["USER_ID"]].append((int(row.get("TIMESTAMP") or 0), row["ITEM_ID"]))
        counts[row["ITEM_ID"]] += 1
    users_with_two = sum(1 for events in per_user.values() if len(events) >= 2)
    if users_with_two < MIN_USERS_WITH_TWO:
        raise InsufficientData(
            f"Insufficient data for training: at least {MIN_USERS_WITH_TWO} users with at least 2 "
            f"interactions each are required, found {users_with_two}."
        )
    model = Model(kind=kind, popularity=sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    if kind == POPULARITY:
        return model
    if kind == ITEM_ATTRIBUTE_AFFINITY:
        model.item_attributes = item_attributes(items or [])
    model.user_activity = Counter({user: len(events) for user, events in per_user.items()})
    cooc: dict[str, Counter] = defaultdict(Counter)
    for user, events in per_user.items():
        events.sort(reverse=True)
        recent: list[str] = []
        for _, item in events:
            if item not in recent:
                recent.append(item)
            if len(recent) >= HISTORY_CAP:
                break
        model.history[user] = recent
        for a in recent:
            for b in recent:
                if a != b:
                    cooc[a][b] += 1
    model.cooccurrence = dict(cooc)
    return model

"""The PostgreSQL fast path: COPY validated orders into temporary staging tables, then merge
them into the catalogue with set-based upserts, all in one transaction.

It writes exactly what `orders_upsert` writes, and counts the same way: an order is unchanged
when neither it, nor its lines, nor its tenders differ from what is stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from django.db import connection, transaction
from psycopg.copy import QueuedLibpqWriter

from returndesk.catalog.inputs import OrderInput
from returndesk.catalog.models import Product
from returndesk.catalog.services import normalize_email
from returndesk.tenants.models import Merchant

logger = logging.getLogger(__name__)

# Inside an outer transaction (a test, a caller's atomic block) ON COMMIT DROP comes late:
# drop leftovers first, and drop the tables when the merge is done.
DROP_STAGING = (
    "DROP TABLE IF EXISTS rd_stage, rd_stage_order, rd_stage_line, rd_stage_tender, "
    "rd_stage_product, rd_touched, rd_keep, rd_map, rd_tender_changed"
)
# One staging table, so that a single COPY stays open for the whole file and the server
# ingests while Python parses. `kind` says what a row is: o(rder), l(ine), t(ender), p(roduct).
STAGE_COLUMNS = (
    "kind, seq, position, key, email, name, phone, external_id, placed_at, delivered_at, "
    "currency, ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, "
    "ship_country, tax_included, amount1, amount2, amount3, sku, quantity, serial_numbers, "
    "reference, source"
)
STAGING_DDL = """
CREATE TEMP TABLE rd_stage (
    kind "char", seq integer, position integer, key text, email text, name text, phone text,
    external_id text, placed_at timestamptz, delivered_at timestamptz, currency text,
    ship_name text, ship_line1 text, ship_line2 text, ship_city text, ship_region text,
    ship_postal_code text, ship_country text, tax_included boolean, amount1 bigint,
    amount2 bigint, amount3 bigint, sku text, quantity integer, serial_numbers jsonb,
    reference text, source text
) ON COMMIT DROP;
CREATE TEMP TABLE rd_touched (order_id bigint, inserted boolean) ON COMMIT DROP;
"""
MERGE_SQL = [
    """CREATE TEMP TABLE rd_stage_order ON COMMIT DROP AS
       SELECT seq, key AS order_number, email, name AS customer_name, phone AS customer_phone,
              external_id AS customer_external_id, placed_at, delivered_at, currency,
              ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code,
              ship_country, tax_included, amount1 AS shipping_total,
              amount2 AS order_discount_total, source
       FROM rd_stage WHERE kind = 'o'""",
    """CREATE TEMP TABLE rd_stage_line ON COMMIT DROP AS
       SELECT seq AS order_seq, key AS line_id, position, sku, currency,
              amount1 AS unit_price, amount2 AS discount, amount3 AS tax, quantity,
              serial_numbers
       FROM rd_stage WHERE kind = 'l'""",
    """CREATE TEMP TABLE rd_stage_tender ON COMMIT DROP AS
       SELECT seq AS order_seq, position, name AS method, currency, amount1 AS amount,
              reference AS external_reference, external_id AS provider
       FROM rd_stage WHERE kind = 't'""",
    # The last record of an order number in the file wins.
    """CREATE TEMP TABLE rd_keep ON COMMIT DROP AS
       SELECT DISTINCT ON (order_number) seq, order_number FROM rd_stage_order
       ORDER BY order_number, seq DESC""",
    "CREATE INDEX ON rd_stage_line (order_seq)",
    "CREATE INDEX ON rd_stage_tender (order_seq)",
    "ANALYZE rd_stage_order; ANALYZE rd_stage_line; ANALYZE rd_stage_tender; ANALYZE rd_keep",
    """INSERT INTO catalog_customer
           (merchant_id, email, name, phone, external_id, created_at, updated_at)
       SELECT DISTINCT ON (s.email) %(m)s, s.email, s.customer_name, s.customer_phone,
              s.customer_external_id, now(), now()
       FROM rd_stage_order s JOIN rd_keep k ON k.seq = s.seq
       WHERE s.email <> ''
       ORDER BY s.email, s.seq DESC
       ON CONFLICT (merchant_id, email) DO UPDATE SET
           name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name
                       ELSE catalog_customer.name END,
           phone = CASE WHEN EXCLUDED.phone <> '' THEN EXCLUDED.phone
                        ELSE catalog_customer.phone END,
           external_id = CASE WHEN EXCLUDED.external_id <> '' THEN EXCLUDED.external_id
                              ELSE catalog_customer.external_id END,
           updated_at = now()
       WHERE (EXCLUDED.name <> '' AND EXCLUDED.name <> catalog_customer.name)
          OR (EXCLUDED.phone <> '' AND EXCLUDED.phone <> catalog_customer.phone)
          OR (EXCLUDED.external_id <> ''
              AND EXCLUDED.external_id <> catalog_customer.external_id)""",
    """WITH up AS (
         INSERT INTO catalog_order
             (merchant_id, order_number, customer_id, email, placed_at, delivered_at, currency,
              ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code,
              ship_country, tax_included, shipping_total_amount, order_discount_total_amount,
              source, created_at, updated_at)
         SELECT %(m)s, s.order_number, c.id, s.email, s.placed_at, s.delivered_at, s.currency,
                s.ship_name, s.ship_line1, s.ship_line2, s.ship_city, s.ship_region,
                s.ship_postal_code, s.ship_country, s.tax_included, s.shipping_total,
                s.order_discount_total, s.source, now(), now()
         FROM rd_stage_order s
         JOIN rd_keep k ON k.seq = s.seq
         LEFT JOIN catalog_customer c
           ON c.merchant_id = %(m)s AND c.email = s.email AND s.email <> ''
         ORDER BY s.seq
         ON CONFLICT (merchant_id, order_number) DO UPDATE SET
             customer_id = EXCLUDED.customer_id, email = EXCLUDED.email,
             placed_at = EXCLUDED.placed_at, delivered_at = EXCLUDED.delivered_at,
             currency = EXCLUDED.currency, ship_name = EXCLUDED.ship_name,
             ship_line1 = EXCLUDED.ship_line1, ship_line2 = EXCLUDED.ship_line2,
             ship_city = EXCLUDED.ship_city, ship_region = EXCLUDED.ship_region,
             ship_postal_code = EXCLUDED.ship_postal_code,
             ship_country = EXCLUDED.ship_country, tax_included = EXCLUDED.tax_included,
             shipping_total_amount = EXCLUDED.shipping_total_amount,
             order_discount_total_amount = EXCLUDED.order_discount_total_amount,
             source = EXCLUDED.source, updated_at = now()
         WHERE (catalog_order.customer_id, catalog_order.email, catalog_order.placed_at,
                catalog_order.delivered_at, catalog_order.currency, catalog_order.ship_name,
                catalog_order.ship_line1, catalog_order.ship_line2, catalog_order.ship_city,
                catalog_order.ship_region, catalog_order.ship_postal_code,
                catalog_order.ship_country, catalog_order.tax_included,
                catalog_order.shipping_total_amount, catalog_order.order_discount_total_amount,
                catalog_order.source)
           IS DISTINCT FROM
               (EXCLUDED.customer_id, EXCLUDED.email, EXCLUDED.placed_at, EXCLUDED.delivered_at,
                EXCLUDED.currency, EXCLUDED.ship_name, EXCLUDED.ship_line1, EXCLUDED.ship_line2,
                EXCLUDED.ship_city, EXCLUDED.ship_region, EXCLUDED.ship_postal_code,
                EXCLUDED.ship_country, EXCLUDED.tax_included, EXCLUDED.shipping_total_amount,
                EXCLUDED.order_discount_total_amount, EXCLUDED.source)
         RETURNING id, (xmax = 0) AS inserted)
       INSERT INTO rd_touched (order_id, inserted) SELECT id, inserted FROM up""",
    """CREATE TEMP TABLE rd_map ON COMMIT DROP AS
       SELECT k.seq, o.id AS order_id, n.order_id IS NOT NULL AS is_new
       FROM rd_keep k
       JOIN catalog_order o ON o.merchant_id = %(m)s AND o.order_number = k.order_number
       LEFT JOIN (SELECT order_id FROM rd_touched WHERE inserted) n ON n.order_id = o.id""",
    "CREATE INDEX ON rd_map (seq); ANALYZE rd_map",
    # Products named by lines and not yet known (only formats that may create products stage
    # them): the first line that named a SKU gave its name and price.
    """INSERT INTO catalog_product
           (merchant_id, sku, name, category, currency, price_amount, returnable, final_sale,
            accessories, packing_instructions, hazardous, serialized, created_at, updated_at)
       SELECT %(m)s, key, name, '', currency, amount1, true, false, '[]'::jsonb, '', false,
              false, now(), now()
       FROM rd_stage WHERE kind = 'p'
       ON CONFLICT (merchant_id, sku) DO NOTHING""",
    # Lines of orders created by this import cannot conflict: a plain insert.
    """INSERT INTO catalog_orderline
           (merchant_id, order_id, line_id, position, product_id, sku, name, quantity,
            currency, unit_price_amount, discount_amount, tax_amount, serial_numbers,
            created_at, updated_at)
       SELECT %(m)s, mp.order_id, l.line_id, l.position, p.id, l.sku, p.name, l.quantity,
              l.currency, l.unit_price, l.discount, l.tax, l.serial_numbers, now(), now()
       FROM rd_stage_line l
       JOIN rd_map mp ON mp.seq = l.order_seq AND mp.is_new
       JOIN catalog_product p ON p.merchant_id = %(m)s AND p.sku = l.sku""",
    """INSERT INTO catalog_tender
           (merchant_id, order_id, position, method, currency, amount, external_reference,
            provider, created_at, updated_at)
       SELECT %(m)s, mp.order_id, st.position, st.method, st.currency, st.amount,
              st.external_reference, st.provider, now(), now()
       FROM rd_stage_tender st JOIN rd_map mp ON mp.seq = st.order_seq AND mp.is_new""",
    """WITH up AS (
         INSERT INTO catalog_orderline
             (merchant_id, order_id, line_id, position, product_id, sku, name, quantity,
              currency, unit_price_amount, discount_amount, tax_amount, serial_numbers,
              created_at, updated_at)
         SELECT %(m)s, mp.order_id, l.line_id, l.position, p.id, l.sku, p.name, l.quantity,
                l.currency, l.unit_price, l.discount, l.tax, l.serial_numbers, now(), now()
         FROM rd_stage_line l
         JOIN rd_map mp ON mp.seq = l.order_seq AND NOT mp.is_new
         JOIN catalog_product p ON p.merchant_id = %(m)s AND p.sku = l.sku
         ORDER BY mp.order_id, l.position
         ON CONFLICT (order_id, line_id) DO UPDATE SET
             position = EXCLUDED.position, product_id = EXCLUDED.product_id,
             sku = EXCLUDED.sku, name = EXCLUDED.name, quantity = EXCLUDED.quantity,
             currency = EXCLUDED.currency, unit_price_amount = EXCLUDED.unit_price_amount,
             discount_amount = EXCLUDED.discount_amount, tax_amount = EXCLUDED.tax_amount,
             serial_numbers = EXCLUDED.serial_numbers, updated_at = now()
         WHERE (catalog_orderline.position, catalog_orderline.product_id, catalog_orderline.sku,
                catalog_orderline.name, catalog_orderline.quantity, catalog_orderline.currency,
                catalog_orderline.unit_price_amount, catalog_orderline.discount_amount,
                catalog_orderline.tax_amount, catalog_orderline.serial_numbers)
           IS DISTINCT FROM
               (EXCLUDED.position, EXCLUDED.product_id, EXCLUDED.sku, EXCLUDED.name,
                EXCLUDED.quantity, EXCLUDED.currency, EXCLUDED.unit_price_amount,
                EXCLUDED.discount_amount, EXCLUDED.tax_amount, EXCLUDED.serial_numbers)
         RETURNING order_id)
       INSERT INTO rd_touched (order_id, inserted) SELECT DISTINCT order_id, false FROM up""",
    """WITH gone AS (
         DELETE FROM catalog_orderline ol USING rd_map mp
         WHERE ol.order_id = mp.order_id AND NOT mp.is_new
           AND NOT EXISTS (SELECT 1 FROM rd_stage_line l
                           WHERE l.order_seq = mp.seq AND l.line_id = ol.line_id)
         RETURNING ol.order_id)
       INSERT INTO rd_touched (order_id, inserted) SELECT DISTINCT order_id, false FROM gone""",
    """CREATE TEMP TABLE rd_tender_changed ON COMMIT DROP AS
       SELECT mp.order_id FROM rd_map mp
       WHERE NOT mp.is_new
         AND COALESCE((SELECT jsonb_agg(jsonb_build_array(t.position, t.method, t.currency,
                                  t.amount, t.external_reference, t.provider)
                                  ORDER BY t.position)
                       FROM catalog_tender t WHERE t.order_id = mp.order_id), '[]'::jsonb)
         IS DISTINCT FROM
             COALESCE((SELECT jsonb_agg(jsonb_build_array(st.position, st.method, st.currency,
                                  st.amount, st.external_reference, st.provider)
                                  ORDER BY st.position)
                       FROM rd_stage_tender st WHERE st.order_seq = mp.seq), '[]'::jsonb)""",
    "DELETE FROM catalog_tender WHERE order_id IN (SELECT order_id FROM rd_tender_changed)",
    """INSERT INTO catalog_tender
           (merchant_id, order_id, position, method, currency, amount, external_reference,
            provider, created_at, updated_at)
       SELECT %(m)s, mp.order_id, st.position, st.method, st.currency, st.amount,
              st.external_reference, st.provider, now(), now()
       FROM rd_stage_tender st JOIN rd_map mp ON mp.seq = st.order_seq
       WHERE mp.order_id IN (SELECT order_id FROM rd_tender_changed)""",
    """INSERT INTO rd_touched (order_id, inserted)
       SELECT order_id, false FROM rd_tender_changed""",
    """UPDATE catalog_order SET updated_at = now()
       WHERE id IN (SELECT order_id FROM rd_touched
                    EXCEPT SELECT order_id FROM rd_touched WHERE inserted)""",
]

COUNT_SQL = """
SELECT (SELECT count(*) FROM rd_keep),
       (SELECT count(DISTINCT order_id) FROM rd_touched WHERE inserted),
       (SELECT count(*) FROM (SELECT order_id FROM rd_touched
                              EXCEPT SELECT order_id FROM rd_touched WHERE inserted) u)
"""


class PgStagingWriter:
    """Stages orders through one COPY, kept open while the file streams in (a writer thread
    feeds the server, so parsing and ingesting overlap), and merges them in `finish()`."""

    def __init__(self, merchant: Merchant, allow_new_products: bool) -> None:
        self.merchant = merchant
        self.allow_new_products = allow_new_products
        self.seq = 0
        # SKUs staged as new products in this run: grows with the catalogue, not the file.
        self.staged_skus: set[str] = set()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.cursor = connection.cursor()
        raw: Any = self.cursor.cursor
        self.raw = raw
        self.copying: Any = None
        try:
            self.raw.execute(DROP_STAGING)
            self.raw.execute(STAGING_DDL)
            if allow_new_products:
                known = Product.objects.filter(merchant=merchant).values_list("sku", flat=True)
                self.staged_skus.update(known)
            self.copy_context = self.raw.copy(
                f"COPY rd_stage ({STAGE_COLUMNS}) FROM STDIN", writer=QueuedLibpqWriter(self.raw)
            )
            self.copying = self.copy_context.__enter__()
        except BaseException as exc:
            self._abort(exc)
            raise

    def write(self, batch: list[tuple[OrderInput, int]]) -> list[tuple[str, int, str, list[str]]]:
        try:
            for data, _ in batch:
                self._stage(data)
        except BaseException as exc:
            self._abort(exc)
            raise
        return []

    def _stage(self, data: OrderInput) -> None:
        self.seq += 1
        seq = self.seq
        put = self.copying.write_row
        a = data.shipping_address
        c = data.customer
        put(
            (
                "o", seq, None, data.order_number, normalize_email(c.email), c.name, c.phone,
                c.external_id, data.placed_at, data.delivered_at, data.currency, a.name,
                a.line1, a.line2, a.city, a.region, a.postal_code, a.country, data.tax_included,
                data.shipping_total.amount if data.shipping_total else 0,
                data.order_discount_total.amount if data.order_discount_total else 0,
                None, None, None, None, None, data.source,
            )
        )  # fmt: skip
        for position, line in enumerate(data.lines, start=1):
            price = line.unit_price
            if self.allow_new_products and line.sku not in self.staged_skus:
                self.staged_skus.add(line.sku)
                name = (line.product_name or line.sku).strip()[:300]
                put(
                    (
                        "p", seq, None, line.sku, None, name, None, None, None, None,
                        price.currency, None, None, None, None, None, None, None, None,
                        price.amount, None, None, None, None, None, None, None,
                    )
                )  # fmt: skip
            serials = json.dumps(list(line.serial_numbers)) if line.serial_numbers else "[]"
            put(
                (
                    "l", seq, position, line.line_id, None, None, None, None, None, None,
                    price.currency, None, None, None, None, None, None, None, None,
                    price.amount, line.discount.amount if line.discount else 0,
                    line.tax.amount if line.tax else 0, line.sku, line.quantity, serials,
                    None, None,
                )
            )  # fmt: skip
        for position, tender in enumerate(data.tenders, start=1):
            put(
                (
                    "t", seq, position, None, None, tender.method, None, tender.provider, None,
                    None, tender.amount.currency, None, None, None, None, None, None, None,
                    None, tender.amount.amount, None, None, None, None, None,
                    tender.external_reference, None,
                )
            )  # fmt: skip

    def finish(self) -> tuple[int, int, int]:
        try:
            self.copy_context.__exit__(None, None, None)
            self.copying = None
            params = {"m": self.merchant.pk}
            for statement in MERGE_SQL:
                started = time.perf_counter()
                self.raw.execute(statement, params if "%(m)s" in statement else None)
                logger.debug(
                    "import merge %.3fs: %s",
                    time.perf_counter() - started,
                    " ".join(statement.split())[:80],
                )
            self.raw.execute(COUNT_SQL)
            kept, created, updated = self.raw.fetchone()
            self.raw.execute(DROP_STAGING)
            self.cursor.close()
        except BaseException as exc:
            self._abort(exc)
            raise
        # Django's foreign keys are deferred: their checks on every new line run here.
        started = time.perf_counter()
        self.atomic.__exit__(None, None, None)
        logger.debug("import commit %.3fs", time.perf_counter() - started)
        return created, updated, kept - created - updated

    def abort(self) -> None:
        self._abort()

    def _abort(self, exc: BaseException | None = None) -> None:
        if self.cursor.closed:
            return
        error = exc or RuntimeError("import aborted")
        if self.copying is not None:
            self.copying = None
            # The COPY is being abandoned and the rollback follows: its own error adds nothing.
            with contextlib.suppress(Exception):
                self.copy_context.__exit__(type(error), error, None)
        self.cursor.close()
        self.atomic.__exit__(type(error), error, None)

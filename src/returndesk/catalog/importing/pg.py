"""The PostgreSQL fast path: COPY validated orders into temporary staging tables, then merge
them into the catalogue with set-based upserts, all in one transaction.

It writes exactly what `orders_upsert` writes, and counts the same way: an order is unchanged
when neither it, nor its lines, nor its tenders differ from what is stored.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.db import connection, transaction

from returndesk.catalog.inputs import OrderInput
from returndesk.catalog.services import normalize_email
from returndesk.tenants.models import Merchant

logger = logging.getLogger(__name__)

# Inside an outer transaction (a test, a caller's atomic block) ON COMMIT DROP comes late:
# drop leftovers first, and drop the tables when the merge is done.
DROP_STAGING = (
    "DROP TABLE IF EXISTS rd_stage_order, rd_stage_line, rd_stage_tender, rd_touched, "
    "rd_keep, rd_map, rd_tender_changed"
)
STAGING_DDL = """
CREATE TEMP TABLE rd_stage_order (
    seq integer PRIMARY KEY, order_number text, email text, customer_name text,
    customer_phone text, customer_external_id text, placed_at timestamptz,
    delivered_at timestamptz, currency text, ship_name text, ship_line1 text, ship_line2 text,
    ship_city text, ship_region text, ship_postal_code text, ship_country text,
    tax_included boolean, shipping_total bigint, order_discount_total bigint, source text
) ON COMMIT DROP;
CREATE TEMP TABLE rd_stage_line (
    order_seq integer, line_id text, position integer, sku text, product_name text,
    quantity integer, currency text, unit_price bigint, discount bigint, tax bigint,
    serial_numbers jsonb
) ON COMMIT DROP;
CREATE TEMP TABLE rd_stage_tender (
    order_seq integer, position integer, method text, currency text, amount bigint,
    external_reference text, provider text
) ON COMMIT DROP;
CREATE TEMP TABLE rd_touched (order_id bigint, inserted boolean) ON COMMIT DROP;
"""

MERGE_SQL = [
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
       SELECT k.seq, o.id AS order_id FROM rd_keep k
       JOIN catalog_order o ON o.merchant_id = %(m)s AND o.order_number = k.order_number""",
    "CREATE INDEX ON rd_map (seq); ANALYZE rd_map",
    # Products named by lines and not yet known (only formats that may create products
    # reach here with unknown SKUs): the first line that names a SKU gives its name and price.
    """INSERT INTO catalog_product
           (merchant_id, sku, name, category, currency, price_amount, returnable, final_sale,
            accessories, packing_instructions, hazardous, serialized, created_at, updated_at)
       SELECT DISTINCT ON (l.sku) %(m)s, l.sku, l.product_name, '', l.currency, l.unit_price,
              true, false, '[]'::jsonb, '', false, false, now(), now()
       FROM rd_stage_line l JOIN rd_keep k ON k.seq = l.order_seq
       ORDER BY l.sku, l.order_seq, l.position
       ON CONFLICT (merchant_id, sku) DO NOTHING""",
    """WITH up AS (
         INSERT INTO catalog_orderline
             (merchant_id, order_id, line_id, position, product_id, sku, name, quantity,
              currency, unit_price_amount, discount_amount, tax_amount, serial_numbers,
              created_at, updated_at)
         SELECT %(m)s, mp.order_id, l.line_id, l.position, p.id, l.sku, p.name, l.quantity,
                l.currency, l.unit_price, l.discount, l.tax, l.serial_numbers, now(), now()
         FROM rd_stage_line l
         JOIN rd_map mp ON mp.seq = l.order_seq
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
         WHERE ol.order_id = mp.order_id
           AND NOT EXISTS (SELECT 1 FROM rd_stage_line l
                           WHERE l.order_seq = mp.seq AND l.line_id = ol.line_id)
         RETURNING ol.order_id)
       INSERT INTO rd_touched (order_id, inserted) SELECT DISTINCT order_id, false FROM gone""",
    """CREATE TEMP TABLE rd_tender_changed ON COMMIT DROP AS
       SELECT mp.order_id FROM rd_map mp
       WHERE COALESCE((SELECT jsonb_agg(jsonb_build_array(t.position, t.method, t.currency,
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
    """Stages orders with COPY as they stream in, and merges them in `finish()`."""

    def __init__(self, merchant: Merchant, allow_new_products: bool) -> None:
        self.merchant = merchant
        self.allow_new_products = allow_new_products
        self.seq = 0
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.cursor = connection.cursor()
        raw: Any = self.cursor.cursor
        self.raw = raw
        self.raw.execute(DROP_STAGING)
        self.raw.execute(STAGING_DDL)

    def _copy(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self.raw.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def write(self, batch: list[tuple[OrderInput, int]]) -> list[tuple[str, int, str, list[str]]]:
        orders, lines, tenders = [], [], []
        try:
            for data, _ in batch:
                self.seq += 1
                a = data.shipping_address
                orders.append(
                    (
                        self.seq,
                        data.order_number,
                        normalize_email(data.customer.email),
                        data.customer.name,
                        data.customer.phone,
                        data.customer.external_id,
                        data.placed_at,
                        data.delivered_at,
                        data.currency,
                        a.name,
                        a.line1,
                        a.line2,
                        a.city,
                        a.region,
                        a.postal_code,
                        a.country,
                        data.tax_included,
                        data.shipping_total.amount if data.shipping_total else 0,
                        data.order_discount_total.amount if data.order_discount_total else 0,
                        data.source,
                    )
                )
                for position, line in enumerate(data.lines, start=1):
                    lines.append(
                        (
                            self.seq,
                            line.line_id,
                            position,
                            line.sku,
                            (line.product_name or line.sku).strip()[:300],
                            line.quantity,
                            line.unit_price.currency,
                            line.unit_price.amount,
                            line.discount.amount if line.discount else 0,
                            line.tax.amount if line.tax else 0,
                            json.dumps(list(line.serial_numbers)),
                        )
                    )
                for position, tender in enumerate(data.tenders, start=1):
                    tenders.append(
                        (
                            self.seq,
                            position,
                            tender.method,
                            tender.amount.currency,
                            tender.amount.amount,
                            tender.external_reference,
                            tender.provider,
                        )
                    )
            self._copy("rd_stage_order", orders)
            self._copy("rd_stage_line", lines)
            self._copy("rd_stage_tender", tenders)
        except BaseException as exc:
            self._abort(exc)
            raise
        return []

    def finish(self) -> tuple[int, int, int]:
        try:
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
        self.atomic.__exit__(None, None, None)
        return created, updated, kept - created - updated

    def abort(self) -> None:
        self._abort()

    def _abort(self, exc: BaseException | None = None) -> None:
        if self.cursor.closed:
            return
        self.cursor.close()
        self.atomic.__exit__(type(exc) if exc else RuntimeError, exc, None)

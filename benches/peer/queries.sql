-- count_eq
SELECT count(*) FROM events WHERE device.type = 'mobile';
-- count_in
SELECT count(*) FROM events WHERE "user".plan IN ('pro', 'enterprise');
-- count_exists
SELECT count(*) FROM events WHERE referrer.domain IS NOT NULL;
-- count_3_filters
SELECT count(*) FROM events WHERE device.type = 'mobile' AND "user".plan = 'pro' AND on_sale = false;
-- sum_filtered
SELECT sum(session_ms) FROM events WHERE device.type = 'desktop';
-- average_filtered
SELECT avg(session_ms) FROM events WHERE device.type = 'desktop';
-- minimum_filtered
SELECT min(price) FROM events WHERE on_sale = true;
-- maximum_filtered
SELECT max(price) FROM events WHERE on_sale = true;
-- group_by_200
SELECT "user".address.city, count(*) FROM events GROUP BY 1;
-- group_by_50k
SELECT page.url, count(*) FROM events GROUP BY 1;
-- count_unique_1m
SELECT count(DISTINCT "user".id) FROM events;
-- median
SELECT quantile_cont(session_ms, 0.5) FROM events;
-- daily_90_days
SELECT date_trunc('day', ts) AS d, count(*) FROM events GROUP BY 1 ORDER BY 1;

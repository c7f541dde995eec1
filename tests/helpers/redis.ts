/** Redis for tests: see lib/run/local-redis.ts. In CI (CI=true) a missing Redis fails, never skips. */
import { redisAvailable } from "../../lib/run/local-redis.ts";

export { startRedis, type LocalRedis as TestRedis } from "../../lib/run/local-redis.ts";

/** Whether Redis tests must run: in CI always (and they fail without Redis), elsewhere when available. */
export function requireRedis(): boolean {
  return process.env.CI === "true" || redisAvailable();
}

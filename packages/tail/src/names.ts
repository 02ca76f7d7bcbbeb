/**
 * Redis names of the live tail, under the deployment's QUEUE_PREFIX so that
 * tests and deployments sharing a Redis never hear each other.
 */
export const tailNames = (prefix: string) => ({
  /** Sorted set: tenant id → until when (ms) some ingest-api has a tail of it open. */
  tailed: `${prefix}:tail:tenants`,
  /** Pub/sub channel on which a worker announces that it stored this tenant's logs. */
  channel: (clientId: string) => `${prefix}:tail:stored:${clientId}`,
  /** The channel's tenant, or undefined for another channel. */
  tenantOf(channel: string): string | undefined {
    const head = `${prefix}:tail:stored:`;
    return channel.startsWith(head) ? channel.slice(head.length) : undefined;
  },
  /** Sorted set: stream id → until when (ms), the open tails of one key (or user). */
  leases: (keyId: string) => `${prefix}:tail:leases:${keyId}`,
  /**
   * Sorted set: stream id → until when (ms), the open tails of one client (all its keys and users). Under the
   * prefix's hash tag like `leases`, so one script takes a lease in both on a Redis Cluster too.
   */
  clientLeases: (clientId: string) => `${prefix}:tail:client-leases:${clientId}`,
});

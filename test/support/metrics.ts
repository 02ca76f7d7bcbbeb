/** The value of one sample on a Prometheus /metrics page (`name`, with these labels among its own); undefined when absent. */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await (await fetch(url)).text();
  const line = text
    .split('\n')
    .find(
      (l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{') && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

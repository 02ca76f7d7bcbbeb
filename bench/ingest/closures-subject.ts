// What bench/ingest/closures.ts times: the listeners one request creates,
// as named closures (plain style) and as methods of one object (the style
// kept while the service ran under tsx).

type Sink = (n: number) => void;

export function namedClosures(sink: Sink): unknown {
  let total = 0;
  function data(chunk: number): void {
    total += chunk;
  }
  function end(): void {
    settle();
  }
  function close(): void {
    settle();
  }
  function settle(): void {
    sink(total);
  }
  const requestLog = (): number => total;
  const setHeader = (value: number): void => {
    total = value;
  };
  return [data, end, close, settle, requestLog, setHeader];
}

export function methodsOfOneObject(sink: Sink): unknown {
  let total = 0;
  const on = {
    data(chunk: number): void {
      total += chunk;
    },
    end(): void {
      on.settle();
    },
    close(): void {
      on.settle();
    },
    settle(): void {
      sink(total);
    },
    requestLog(): number {
      return total;
    },
    setHeader(value: number): void {
      total = value;
    },
  };
  return on;
}

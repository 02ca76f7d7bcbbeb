import { useEffect, useState } from 'preact/hooks';
import { errorText } from './api.js';

/**
 * The state of a management page (keys, users): what `load` fetches, loaded
 * on mount; the error of the last load or action; and the row whose
 * destructive button is armed (the first click arms it, the second acts).
 * `act` runs an action, shows its error if any, disarms, and reloads.
 */
export function useManagedList(load: () => Promise<void>) {
  const [error, setError] = useState('');
  const [armed, setArmed] = useState<string | null>(null);
  const reload = () => load().catch((e: unknown) => setError(errorText(e)));
  useEffect(() => void reload(), []);

  const act = async (f: () => Promise<void>) => {
    setError('');
    try {
      await f();
    } catch (err) {
      setError(errorText(err));
    }
    setArmed(null);
    await reload();
  };
  /** Arms `id`'s destructive button, or, when it is armed already, runs `f`. */
  const armOrAct = (id: string, f: () => Promise<void>) => (armed === id ? act(f) : setArmed(id));
  return { error, armed, act, armOrAct };
}

import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessageOf } from './api-client';

export interface ApiResource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload(): Promise<void>;
}

/** Loads `load()` when `key` changes (and on reload); an answer to an older key is dropped. */
export function useApiResource<T>(load: () => Promise<T>, key: string): ApiResource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const answer = await loadRef.current();
      if (mine !== generation.current) return;
      setData(answer);
      setError(undefined);
    } catch (failure) {
      if (mine !== generation.current) return;
      setError(errorMessageOf(failure));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setData(undefined);
    void reload();
  }, [key, reload]);

  return { data, error, loading, reload };
}

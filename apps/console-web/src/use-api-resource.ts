import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessageOf } from './api-client';

export interface ApiResource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload(): Promise<void>;
  /** Loads again without showing it as loading (a poll): the data shown stays until the answer. */
  refresh(): Promise<void>;
}

/** Loads `load()` when `key` changes (and on reload); an answer to an older key is dropped. */
export function useApiResource<T>(load: () => Promise<T>, key: string): ApiResource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);

  const fetchAnswer = useCallback(async (quietly: boolean) => {
    const mine = ++generation.current;
    if (!quietly) setLoading(true);
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
  const reload = useCallback(() => fetchAnswer(false), [fetchAnswer]);
  const refresh = useCallback(() => fetchAnswer(true), [fetchAnswer]);

  useEffect(() => {
    setData(undefined);
    void reload();
  }, [key, reload]);

  return { data, error, loading, reload, refresh };
}

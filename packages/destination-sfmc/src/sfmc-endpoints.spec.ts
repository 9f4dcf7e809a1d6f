import { RateBudgets } from '@tessera/destination-kit';
import { SFMC_ENDPOINTS, SFMC_RATE_BUDGETS } from './sfmc-endpoints';

describe('SFMC rate budgets', () => {
  const budgets = new RateBudgets(SFMC_RATE_BUDGETS);

  it('counts every endpoint the destination calls against exactly one budget', () => {
    const counted = Object.entries(SFMC_ENDPOINTS).map(([name, endpoint]) => {
      const path = endpoint.path.replace('{key}', 'TesseraProfiles').replace('{requestId}', 'abc');
      return [name, budgets.matching(endpoint.method, path).map((budget) => budget.name)];
    });
    expect(Object.fromEntries(counted)).toEqual({
      token: ['token'],
      rowset: ['rest'],
      asyncRows: ['rest'],
      asyncStatus: ['rest'],
      asyncResults: ['rest'],
      rowQuery: ['rest'],
      contactsDelete: ['rest'],
      ensVerify: ['rest'],
      tokenContext: ['rest'],
      soap: ['soap'],
    });
  });
});

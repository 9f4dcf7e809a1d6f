export { RuleBook, type SavedRules } from './rule-book.repository';

import { mergeConfig } from 'vitest/config';
import base from '../../config/vitest.base';

// Tests use method decorators (@authenticated); Node 20 needs them compiled.
export default mergeConfig(base, { oxc: { decorator: { legacy: true } } });

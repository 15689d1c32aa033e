// Optimizers and learning-rate schedules.
export * from './sgd.js';
export * from './schedule.js';

// kcl-bench child on the official Node SDK (aws-kcl).
//
// Same work as every bench child: decode every record's data, sum the lengths, checkpoint at the
// last record of each batch, checkpoint at shard end, print the totals on stderr at shard end.
// Run by kcl-bench with `node` (see scripts/bench).
'use strict';

const kcl = require('aws-kcl');

let records = 0;
let bytes = 0;

const processor = {
  initialize: function (initializeInput, completeCallback) {
    completeCallback();
  },

  processRecords: function (processRecordsInput, completeCallback) {
    const batch = processRecordsInput.records;
    for (let i = 0; i < batch.length; i++) {
      bytes += Buffer.from(batch[i].data, 'base64').length;
    }
    records += batch.length;
    if (batch.length === 0) {
      completeCallback();
      return;
    }
    const last = batch[batch.length - 1];
    processRecordsInput.checkpointer.checkpoint(last.sequenceNumber, function (err) {
      if (err) {
        process.stderr.write('checkpoint failed: ' + err + '\n');
      }
      completeCallback();
    });
  },

  leaseLost: function (leaseLostInput, completeCallback) {
    completeCallback();
  },

  shardEnded: function (shardEndedInput, completeCallback) {
    shardEndedInput.checkpointer.checkpoint(function (err) {
      if (err) {
        process.stderr.write('checkpoint failed: ' + err + '\n');
      }
      process.stderr.write('kcl-bench-child records=' + records + ' bytes=' + bytes + '\n');
      completeCallback();
    });
  },

  shutdownRequested: function (shutdownRequestedInput, completeCallback) {
    shutdownRequestedInput.checkpointer.checkpoint(function () {
      completeCallback();
    });
  },
};

kcl(processor).run();

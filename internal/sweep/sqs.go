package sweep

import (
	"context"
	"fmt"
	"path"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// KindQueue is the SQS kind: the node events queue.
const KindQueue = "sqs:queue"

// queues lists the cluster's queues; the ID is the queue URL (what
// Terraform's id holds and DeleteQueue takes). Only names starting with
// the cluster name are listed: kforge names its queue
// "<cluster>-node-events", and the prefix spares a call for the tags of
// every other queue in the account. A listed queue whose name does not
// match ("<cluster>2-...") costs one more call for its tags.
func (l *lister) queues(ctx context.Context) error {
	c := sqs.NewFromConfig(l.cfg)
	p := sqs.NewListQueuesPaginator(c, &sqs.ListQueuesInput{
		// Without MaxResults SQS answers at most 1,000 queues and no NextToken.
		MaxResults:      aws.Int32(1000),
		QueueNamePrefix: aws.String(l.t.Cluster),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, url := range out.QueueUrls {
			name := path.Base(url)
			tags, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
			if isNotFound(err) {
				continue // deleted since the listing: SQS lists a queue for up to 60 s after DeleteQueue
			}
			if err != nil {
				return fmt.Errorf("tags of queue %s: %w", name, err)
			}
			if why := l.match(tags.Tags, name); why != "" {
				// The ARN too: the orphans check matches it against the
				// state, whatever form of the URL the state recorded.
				attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
				if isNotFound(err) {
					continue
				}
				if err != nil {
					return fmt.Errorf("ARN of queue %s: %w", name, err)
				}
				l.add(Resource{Kind: KindQueue, ID: url, ARN: attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], Name: name, Why: why})
			}
		}
	}
	return nil
}

func (d *deleter) queue(ctx context.Context, r Resource) error {
	_, err := d.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(r.ID)})
	return err
}
